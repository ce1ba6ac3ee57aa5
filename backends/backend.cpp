// backend: see backend.hpp.
#include "backend.hpp"

namespace rcptguard {

const char* to_string(LookupStatus s) {
    switch (s) {
        case LookupStatus::Found: return "found";
        case LookupStatus::NotFound: return "not found";
        case LookupStatus::TempFail: return "temporary failure";
    }
    return "temporary failure";
}

}  // namespace rcptguard
