// session: see session.hpp.
#include "core/session.hpp"

#include "core/reply.hpp"
#include "util/log.hpp"
#include "util/network.hpp"
#include "util/text.hpp"

namespace rcptguard {

namespace {

void count_verdict(Metrics& m, Verdict v) {
    switch (v) {
        case Verdict::Valid: bump(m.rcpt_valid); break;
        case Verdict::Unknown: bump(m.rcpt_unknown); break;
        case Verdict::TempFail: bump(m.rcpt_tempfail); break;
        case Verdict::NotOurs: bump(m.rcpt_not_ours); break;
        case Verdict::BadSyntax: bump(m.rcpt_bad_syntax); break;
    }
}

void count_reply(Metrics& m, const RcptDecision& d) {
    if (d.monitored) bump(m.rcpt_monitored);
    if (d.accepted_on_error) bump(m.rcpt_accepted_on_error);
    if (d.action == RcptAction::Continue) return;
    const std::string& c = d.reply.code;
    if (c == "550")
        bump(m.reply_550);
    else if (c == "501")
        bump(m.reply_501);
    else if (c == "451")
        bump(m.reply_451);
    else if (c == "450")
        bump(m.reply_450);
    else if (c == "421")
        bump(m.reply_421);
}

std::string make_client_text(const ClientInfo& client) {
    // MTAs pass "[192.0.2.7]" as the host name when reverse DNS gave none;
    // Postfix's logs say "unknown[192.0.2.7]", which admins grep for.
    const std::string& h = client.hostname;
    bool unnamed = h.empty() || h == "unknown" || (h.size() > 2 && h.front() == '[' && h.back() == ']');
    return (unnamed ? std::string("unknown") : printable(h, 128)) + "[" + printable(client.address, 64) + "]";
}

}  // namespace

Connection::Connection(std::shared_ptr<const Runtime> runtime, ClientInfo client, Services& services)
    : runtime_(std::move(runtime)),
      client_(std::move(client)),
      client_text_(make_client_text(client_)),
      services_(services) {
    const TarpitSettings& ts = runtime_->settings->tarpit;
    tarpit_.client_key = client_key(client_.address, ts.ipv4_prefix, ts.ipv6_prefix);
    auto ip = IpAddress::parse(client_.address);
    tarpit_.exempt = ip && ts.trusted_networks.contains(*ip);
}

std::string Connection::log_prefix(const char* component) const {
    return (queue_id_.empty() ? std::string("NOQUEUE") : printable(queue_id_, 32)) + ": " + component + ": ";
}

void Connection::on_mail(std::string_view sender, std::string_view queue_id, std::string_view auth_user) {
    Address from = parse_address(sender, runtime_->rules->settings().address);
    sender_address_ = from;
    recipients_.clear();
    rcpt_rewrites_.clear();
    sender_ = std::move(from.original);
    sender_text_ = display_address(sender_);
    null_sender_ = from.status == AddressStatus::Null;
    queue_id_ = std::string(queue_id);
    // Postfix's non-SMTP path (sendmail command, its own bounces through
    // non_smtpd_milters) passes addresses without angle brackets; smtpd and
    // Sendmail always with them.
    std::string_view t = trim(sender);
    via_smtp_ = !t.empty() && t.front() == '<';
    // SMTP AUTH happens once per connection, before MAIL: from here on the
    // client is one of ours.
    if (!auth_user.empty() && runtime_->settings->tarpit.exempt_authenticated) tarpit_.exempt = true;
    stripper_.reset();
    const BounceSettings& b = runtime_->settings->bounces;
    if (null_sender_ && b.enabled &&
        ((!via_smtp_ && b.from_local) || (via_smtp_ && tarpit_.exempt && b.from_trusted) ||
         (via_smtp_ && !tarpit_.exempt && b.from_inbound))) {
        BounceOptions o;
        o.max_kept_bytes = b.max_kept_bytes;
        stripper_ = std::make_unique<BounceStripper>(o);
    }
}

void Connection::on_message_end() {
    recipients_.clear();
    rcpt_rewrites_.clear();
    sender_address_ = Address{};
    sender_.clear();
    sender_text_ = display_address(sender_);
    null_sender_ = false;
    via_smtp_ = true;
    queue_id_.clear();
    stripper_.reset();
}

RcptDecision Connection::refuse(const Reply& reply, const std::string& why, bool monitor) {
    RcptDecision d;
    std::string who = "client " + client_text() + ": ";
    if (monitor) {
        d.monitored = true;
        d.would_reply = reply;
        log_info(log_prefix("tarpit") + who + "would refuse (monitor mode): " + reply.to_string() + ": " + why);
        return d;
    }
    d.action = RcptAction::TempFail;  // 4xx class: libmilter needs SMFIS_TEMPFAIL for 421/450
    d.reply = reply;
    log_notice(log_prefix("tarpit") + who + "refuse: " + reply.to_string() + ": " + why);
    return d;
}

void Connection::apply_tarpit(bool bad, Millis lookup_elapsed, RcptDecision* d, const bool* recipient_monitor) {
    const TarpitSettings& ts = runtime_->settings->tarpit;
    bool monitor = recipient_monitor ? *recipient_monitor : runtime_->rules->settings().monitor;
    Tarpit& tp = services_.tarpit;
    TarpitOutcome out = tp.after_verdict(tarpit_, ts, bad, lookup_elapsed);
    Metrics& m = services_.metrics;
    if (out.client.newly_banned) bump(m.tarpit_bans);
    if (out.client.newly_banned)
        log_notice(log_prefix("tarpit") + "client " + tarpit_.client_key + ": " +
                   (monitor ? "would ban (monitor mode)" : "banned") + " for " + format_duration(ts.ban.ban_time) +
                   ": " + std::to_string(out.client.bad_in_window) + " bad recipients within " +
                   format_duration(ts.ban.window) + (out.client.shared ? " on all hosts sharing the state" : ""));
    if (out.disconnect) {
        RcptDecision r = refuse(too_many_recipients_reply(current_rcpt_),
                                std::to_string(tarpit_.bad + tarpit_.deferred) +
                                    " bad recipients on this connection (max_bad_recipients = " +
                                    std::to_string(ts.max_bad_recipients) + ")",
                                monitor);
        if (!monitor) {
            *d = r;
            bump(m.tarpit_disconnects);
        }
        return;
    }
    if (out.delay.count() <= 0) return;
    if (monitor) {
        log_info(log_prefix("tarpit") + "client " + client_text() + ": would delay reply (monitor mode) by " +
                 format_duration(out.delay) + ": " + std::to_string(tarpit_.bad + tarpit_.deferred) +
                 " bad recipients on this connection");
        return;
    }
    d->delay = out.delay;  // the front end waits (a thread sleeps or a timer fires), then calls waited()
}

void Connection::waited(Millis asked, Millis actual) {
    const TarpitSettings& ts = runtime_->settings->tarpit;
    Metrics& m = services_.metrics;
    tarpit_.slept += actual;
    if (actual.count() > 0) {
        bump(m.tarpit_delays);
        bump(m.tarpit_delay_millis, static_cast<std::uint64_t>(actual.count()));
        log_info(log_prefix("tarpit") + "client " + client_text() + ": delayed reply by " + format_duration(asked) +
                 ": " + std::to_string(tarpit_.bad + tarpit_.deferred) + " bad recipients on this connection" +
                 " (budget left " + format_duration(ts.tarpit_budget - tarpit_.slept) + ")");
    } else if (asked.count() > 0) {
        bump(m.tarpit_skipped);
        log_info(log_prefix("tarpit") + "client " + client_text() + ": not delayed: " +
                 std::to_string(ts.max_sleepers) + " connections already waiting (tarpit_max_sleepers)");
    }
}

RcptDecision Connection::on_rcpt_and_wait(const RcptInput& in) {
    RcptDecision d = on_rcpt(in);
    if (d.delay.count() > 0) waited(d.delay, services_.tarpit.wait(d.delay, runtime_->settings->tarpit));
    return d;
}

std::optional<RcptPrecheck> Connection::check_at_once(std::string_view address) const {
    std::string checked = batv_check_address(address);
    std::optional<RecipientCheck> c = runtime_->rules->check_at_once(checked);
    if (!c) return std::nullopt;
    return RcptPrecheck{std::move(checked), std::move(*c)};
}

RcptDecision Connection::on_rcpt(const RcptInput& in) {
    if (!in.queue_id.empty()) queue_id_ = std::string(in.queue_id);
    current_rcpt_ = std::string(without_brackets(in.address));
    if (!via_smtp_ && null_sender_) {
        // The MTA's own bounces (Postfix: internal_mail_filter_classes =
        // bounce) must never be refused: Postfix would keep them queued as a
        // configuration error. Their recipient is the original sender anyway.
        log_debug(log_prefix("rcpt") + display_address(in.address) + ": no opinion: bounce generated by the MTA");
        return {};
    }
    const TarpitSettings& ts = runtime_->settings->tarpit;
    bool monitor = runtime_->rules->settings().monitor;
    if (in.rejected_by_mta) {
        // The MTA refused this recipient before asking us and will ignore our
        // answer; it still counts, and a wait here still slows the client.
        log_debug(log_prefix("rcpt") + display_address(in.address) + ": rejected by the MTA");
        bump(services_.metrics.rcpt_rejected_by_mta);
        RcptDecision ignored;
        apply_tarpit(true, Millis(0), &ignored);
        RcptDecision d;
        d.delay = ignored.delay;  // the MTA ignores our answer but still waits for it
        return d;
    }
    Tarpit& tp = services_.tarpit;
    ClientStatus st;
    TarpitGate gate = tp.before_lookup(tarpit_, ts, &st);
    if (gate == TarpitGate::Banned) {
        RcptDecision r =
            refuse(banned_client_reply(current_rcpt_),
                   "banned for another " + format_duration(st.ban_left) + " (" + std::to_string(st.bad_in_window) +
                       " bad recipients within " + format_duration(ts.ban.window) + ")",
                   monitor);
        if (!monitor) {
            bump(services_.metrics.tarpit_refused_banned);
            count_reply(services_.metrics, r);
            return r;
        }
    }
    if (gate == TarpitGate::CutOff && !monitor) {
        // Reached through recipients the MTA rejected itself (their reply was ignored).
        RcptDecision r = refuse(too_many_recipients_reply(current_rcpt_),
                                std::to_string(tarpit_.bad) + " bad recipients on this connection", false);
        bump(services_.metrics.tarpit_disconnects);
        count_reply(services_.metrics, r);
        return r;
    }
    if (gate == TarpitGate::UniformDefer && !monitor) {
        ++tarpit_.deferred;
        RcptDecision r =
            refuse(uniform_deferral_reply(current_rcpt_),
                   "uniform deferral after " + std::to_string(ts.uniform_deferral_after) + " bad recipients", false);
        apply_tarpit(false, Millis(0), &r);
        bump(services_.metrics.tarpit_uniform_deferrals);
        count_reply(services_.metrics, r);
        return r;
    }
    BatvOutcome batv = batv_rcpt(in.address);
    if (batv.refused) {
        RcptDecision d = batv.decision;
        apply_tarpit(true, Millis(0), &d);
        log_info(log_prefix("batv") + display_address(current_rcpt_) + ": reject: " + d.reply.to_string() +
                 replaced_note(batv.decision.reply, d) + "; client=" + client_text() + " from=" + sender_text_);
        count_reply(services_.metrics, d);
        return d;
    }
    const RecipientRules& policy = *runtime_->rules;
    Millis t0 = services_.clock.now();
    // A precheck stands only for the address it was taken for (BATV may
    // have rewritten the recipient).
    RecipientCheck check = in.precheck && in.precheck->address == batv.check_address ? in.precheck->check
                                                                                     : policy.check(batv.check_address);
    Millis elapsed = services_.clock.now() - t0;
    RcptDecision d = policy.decide(check);
    Reply verdict_reply = d.reply;
    bool bad = check.verdict == Verdict::Unknown || check.verdict == Verdict::BadSyntax;
    // A domain in monitor mode gets only "would delay" in the log, like the
    // recipient's own verdict.
    bool recipient_monitor = policy.monitor_for(check);
    apply_tarpit(bad, elapsed, &d, &recipient_monitor);
    // After the tarpit: the log names the reply the client really got.
    log_decision(check, d, verdict_reply);
    if (d.action == RcptAction::Continue && check.address.status == AddressStatus::Mailbox)
        recipients_.push_back(check.address.canonical());
    count_verdict(services_.metrics, check.verdict);
    count_reply(services_.metrics, d);
    return d;
}

std::string Connection::replaced_note(const Reply& verdict_reply, const RcptDecision& d) const {
    if (d.action == RcptAction::Continue || d.reply.code == verdict_reply.code) return "";
    std::string instead =
        verdict_reply.empty() ? std::string("acceptance") : verdict_reply.code + " " + verdict_reply.xcode;
    return " (in place of " + instead +
           ": max_bad_recipients = " + std::to_string(runtime_->settings->tarpit.max_bad_recipients) + " reached)";
}

void Connection::log_decision(const RecipientCheck& c, const RcptDecision& d, const Reply& verdict_reply) const {
    // Built only when a line is written: this runs for every recipient.
    auto who = [&] { return display_address(c.address.original); };
    auto tail = [&] { return "; client=" + client_text() + " from=" + sender_text_; };
    if (d.action != RcptAction::Continue && d.reply.code != verdict_reply.code) {
        // The tarpit cut the client off on this recipient: the client got the
        // 421, whatever the verdict would have answered.
        if (!log_enabled(LogLevel::Info)) return;
        std::string cause = c.verdict == Verdict::BadSyntax ? ": " + c.reason : "";
        log_info(log_prefix("rcpt") + who() + ": reject: " + d.reply.to_string() + cause +
                 replaced_note(verdict_reply, d) + tail());
        return;
    }
    switch (c.verdict) {
        case Verdict::Valid:
            if (c.stale) {
                log_notice(log_prefix("rcpt") + who() + ": accept: found " + printable(c.key) +
                           " in the cache: " + printable(c.reason, 300) + tail());
                return;
            }
            if (log_enabled(LogLevel::Debug))
                log_debug(log_prefix("rcpt") + who() + ": accept: " +
                          (c.key.empty() ? c.reason : "found " + printable(c.key) + " in backend " + c.backend) +
                          tail());
            return;
        case Verdict::NotOurs:
            if (log_enabled(LogLevel::Debug))
                log_debug(log_prefix("rcpt") + who() +
                          ": no opinion: " + (c.reason.empty() ? "not one of our domains" : c.reason));
            return;
        case Verdict::Unknown:
        case Verdict::BadSyntax:
        case Verdict::TempFail: break;
    }
    LogLevel level =
        d.accepted_on_error || (!d.monitored && d.action == RcptAction::TempFail) ? LogLevel::Warning : LogLevel::Info;
    if (!log_enabled(level)) return;
    // One line per refused recipient at the default log level: built in one
    // buffer rather than through a chain of temporaries.
    std::string line;
    line.reserve(320);
    if (queue_id_.empty())
        line += "NOQUEUE";
    else
        line += printable(queue_id_, 32);
    line += ": rcpt: ";
    line += display_address(c.address.original);
    if (d.accepted_on_error) {
        line += ": accept despite lookup failure (on_backend_error = accept)";
    } else if (d.monitored) {
        line += ": would reject (monitor mode): ";
        d.would_reply.append_to(line);
    } else {
        line += d.action == RcptAction::TempFail ? ": defer: " : ": reject: ";
        d.reply.append_to(line);
    }
    if (c.verdict == Verdict::TempFail) {
        line += ": backend ";
        line += c.backend;
        line += ": ";
        line += printable(c.reason, 300);
    } else if (c.verdict == Verdict::BadSyntax) {
        line += ": ";
        line += c.reason;
    }
    line += "; client=";
    line += client_text();
    line += " from=";
    line += sender_text_;
    log_line(level, line);
}

}  // namespace rcptguard
