// callbacks: the libmilter layer. C trampolines only: each one catches every
// exception (an exception must never cross into libmilter), finds the
// Connection in the private data, calls the session core and turns its
// decision into libmilter calls. Nothing here decides anything.
// Thread-safety: libmilter calls these from its worker threads; the shared
// RuntimeHolder is thread-safe, a Connection is used by one callback at a time.
#pragma once

#include "core/runtime.hpp"
#include "core/services.hpp"

struct smfiDesc;

namespace rcptguard {

// Registers rcptguard's callbacks with libmilter (smfi_register). The holder
// and the services must outlive smfi_main(). Returns false if libmilter refused.
bool register_milter(RuntimeHolder* runtimes, Services* services);

}  // namespace rcptguard
