// header_block: see header_block.hpp.
#include "core/bounce/header_block.hpp"

#include "core/bounce/header_fields.hpp"

namespace rcptguard::bounce {

HeaderBlockCollector::Event HeaderBlockCollector::line(std::string_view content) {
    switch (state_) {
        case State::Start:
            if (content.empty() && skip_leading_blank_) return Event::Continue;
            if (content.substr(0, 5) == "From ") return Event::Continue;  // mbox envelope line
            if (!is_field_line(content)) return Event::NoHeaders;
            state_ = State::InBlock;
            [[fallthrough]];
        case State::InBlock:
            if (content.empty()) {
                state_ = State::AfterBlock;
                return Event::BlockEndedBlank;
            }
            if (is_field_line(content)) {
                ++fields_;
            } else if (!is_continuation_line(content)) {
                state_ = State::AfterBlock;
                return Event::BodyStarts;
            }
            block_.append(content);
            block_.append("\r\n");
            return Event::Continue;
        case State::AfterBlock:
            // Blank lines alone are no body worth removing.
            return content.empty() ? Event::Continue : Event::HasBody;
    }
    return Event::Continue;
}

}  // namespace rcptguard::bounce
