// callbacks: see callbacks.hpp. libmilter facts used here are in
// doc/platform.md §1-§3.
#include "milter/callbacks.hpp"

#include <arpa/inet.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <string>

#include "core/session.hpp"
#include "milter/milter_reply.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace rcptguard {

namespace {

RuntimeHolder* g_runtimes = nullptr;
Services* g_services = nullptr;

// Per-MTA-connection private data: the configuration snapshot, what was
// negotiated with it, then the Connection. One snapshot from negotiation to
// close: a reload in between must not leave the negotiated steps and the
// Connection on different configurations.
struct Session {
    std::shared_ptr<const Runtime> runtime;
    unsigned long steps = 0;    // SMFIP_* bits agreed in xxfi_negotiate
    unsigned long actions = 0;  // SMFIF_* bits agreed
    bool body_skipped = false;  // this message's body was cut short with SMFIS_SKIP
    std::unique_ptr<Connection> conn;
};

Session* session_of(SMFICTX* ctx) { return static_cast<Session*>(smfi_getpriv(ctx)); }

// libmilter's API takes char* for strings it only reads.
char* c_str(const std::string& s) { return const_cast<char*>(s.c_str()); }
char* c_str(const char* s) { return const_cast<char*>(s); }

std::string macro(SMFICTX* ctx, const char* name) {
    const char* v = smfi_getsymval(ctx, c_str(name));
    return v ? std::string(v) : std::string();
}

std::string address_text(const struct sockaddr* sa) {
    if (!sa) return "";
    char buf[INET6_ADDRSTRLEN] = {0};
    if (sa->sa_family == AF_INET) {
        const auto* in = reinterpret_cast<const struct sockaddr_in*>(sa);
        if (inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf)) return buf;
    } else if (sa->sa_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const struct sockaddr_in6*>(sa);
        if (inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf)) return buf;
    }
    return "";
}

// Runs a callback body; an exception is logged and answered with on_error.
template <typename F>
sfsistat guarded(const char* stage, sfsistat on_error, F&& body) noexcept {
    try {
        return body();
    } catch (const std::exception& e) {
        try {
            log_error(std::string("milter: ") + stage + ": internal error: " + e.what());
        } catch (...) {}
    } catch (...) {
        try {
            log_error(std::string("milter: ") + stage + ": internal error");
        } catch (...) {}
    }
    return on_error;
}

// The answer for a stage where we never refuse: NOREPLY if the MTA agreed to
// skip the reply (returning NOREPLY without that bit hangs the MTA).
sfsistat no_opinion(SMFICTX* ctx, unsigned long nr_bit) {
    Session* s = session_of(ctx);
    return (s && (s->steps & nr_bit)) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

sfsistat apply(SMFICTX* ctx, const RcptDecision& d) {
    if (d.action == RcptAction::Continue) return SMFIS_CONTINUE;
    std::string text = milter_reply_text(d.reply);
    if (smfi_setreply(ctx, c_str(d.reply.code), c_str(d.reply.xcode), c_str(text)) != MI_SUCCESS)
        log_error("milter: libmilter refused reply '" + d.reply.to_string() +
                  "': the MTA sends its generic text instead");
    return d.action == RcptAction::Reject ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

sfsistat on_negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long, unsigned long,
                      unsigned long* pf0, unsigned long* pf1, unsigned long* pf2, unsigned long* pf3) {
    return guarded("negotiate", SMFIS_ALL_OPTS, [&]() -> sfsistat {
        auto* s = new Session;
        smfi_setpriv(ctx, s);
        s->runtime = g_runtimes->get();
        const Runtime* rt = s->runtime.get();
        bool strip = rt->settings->bounces.enabled;
        bool batv = rt->settings->batv.enabled;
        unsigned long actions = 0;
        if (f0 & SMFIF_SETSYMLIST) actions |= SMFIF_SETSYMLIST;
        // Stripping a bounce adds a trace header and replaces the body; BATV
        // signs the envelope sender and turns tagged recipients into plain ones.
        if (strip) actions |= f0 & (SMFIF_ADDHDRS | SMFIF_CHGBODY);
        if (batv) actions |= f0 & (SMFIF_CHGFROM | SMFIF_ADDRCPT | SMFIF_DELRCPT);
        *pf0 = actions;
        // Stages rcptguard does not use are negotiated away, and stages where
        // it never refuses need no reply: every round trip costs the MTA time.
        // The message content is needed only to strip bounces; for other
        // messages rcptguard accepts the rest at DATA.
        unsigned long steps = SMFIP_NOHELO | SMFIP_NOUNKNOWN;
        if (!strip) steps |= SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY;
        if (!strip && !batv) steps |= SMFIP_NODATA;
        steps &= f1;
        steps |= f1 & (SMFIP_NR_CONN | SMFIP_NR_MAIL);
        if (strip) steps |= f1 & (SMFIP_SKIP | SMFIP_NR_HDR);
        // See recipients the MTA rejected itself: they count as bad recipients.
        // When the policy service judges recipients, the milter skips RCPT.
        if (rt->settings->milter_recipient_checks)
            steps |= f1 & SMFIP_RCPT_REJ;
        else
            steps |= f1 & SMFIP_NORCPT;
        *pf1 = steps;
        *pf2 = 0;
        *pf3 = 0;
        s->steps = steps;
        s->actions = actions;
        if (actions & SMFIF_SETSYMLIST) {
            // Only the macros we read (a list replaces the MTA's default list).
            smfi_setsymlist(ctx, SMFIM_CONNECT, c_str("j"));
            smfi_setsymlist(ctx, SMFIM_ENVFROM, c_str("i {auth_authen}"));
            smfi_setsymlist(ctx, SMFIM_ENVRCPT, c_str("i {rcpt_mailer}"));
            smfi_setsymlist(ctx, SMFIM_EOM, c_str("i"));
            if (strip || batv) smfi_setsymlist(ctx, SMFIM_DATA, c_str("i"));
        }
        return SMFIS_CONTINUE;
    });
}

sfsistat on_connect(SMFICTX* ctx, char* hostname, struct sockaddr* hostaddr) {
    return guarded("connect", SMFIS_TEMPFAIL, [&]() -> sfsistat {
        Session* s = session_of(ctx);
        if (!s) {  // an MTA that did not negotiate (milter protocol < 6)
            s = new Session;
            smfi_setpriv(ctx, s);
        }
        if (!s->runtime) s->runtime = g_runtimes->get();
        ClientInfo client{hostname ? hostname : "unknown", address_text(hostaddr)};
        if (!s->conn) {
            bump(g_services->metrics.connections_total);
            g_services->metrics.connections_current.fetch_add(1, std::memory_order_relaxed);
        }
        s->conn = std::make_unique<Connection>(s->runtime, std::move(client), *g_services);
        return no_opinion(ctx, SMFIP_NR_CONN);
    });
}

sfsistat on_envfrom(SMFICTX* ctx, char** argv) {
    return guarded("mail", SMFIS_TEMPFAIL, [&]() -> sfsistat {
        Session* s = session_of(ctx);
        if (!s || !s->conn) return SMFIS_TEMPFAIL;
        s->conn->on_mail(argv && argv[0] ? argv[0] : "", macro(ctx, "i"), macro(ctx, "{auth_authen}"));
        return no_opinion(ctx, SMFIP_NR_MAIL);
    });
}

sfsistat on_envrcpt(SMFICTX* ctx, char** argv) {
    return guarded("rcpt", SMFIS_TEMPFAIL, [&]() -> sfsistat {
        Session* s = session_of(ctx);
        if (!s || !s->conn) return SMFIS_TEMPFAIL;
        if (!s->conn->runtime().settings->milter_recipient_checks) return SMFIS_CONTINUE;
        std::string qid = macro(ctx, "i");
        RcptInput in;
        in.address = argv && argv[0] ? argv[0] : "";
        in.queue_id = qid;
        in.rejected_by_mta = (s->steps & SMFIP_RCPT_REJ) && macro(ctx, "{rcpt_mailer}") == "error";
        return apply(ctx, s->conn->on_rcpt_and_wait(in));
    });
}

sfsistat on_data(SMFICTX* ctx) {
    return guarded("data", SMFIS_CONTINUE, [&]() -> sfsistat {
        Session* s = session_of(ctx);
        if (!s || !s->conn) return SMFIS_CONTINUE;
        s->body_skipped = false;
        // Only bounces to strip and BATV edits need the end of the message:
        // any other message is accepted here, so the MTA sends no content.
        if (s->conn->wants_content()) return SMFIS_CONTINUE;
        s->conn->on_message_end();
        return SMFIS_ACCEPT;
    });
}

sfsistat on_header(SMFICTX* ctx, char* name, char* value) {
    return guarded("header", SMFIS_CONTINUE, [&]() -> sfsistat {
        Session* s = session_of(ctx);
        if (s && s->conn) s->conn->on_header(name ? name : "", value ? value : "");
        return no_opinion(ctx, SMFIP_NR_HDR);
    });
}

sfsistat on_eoh(SMFICTX* ctx) {
    return guarded("eoh", SMFIS_CONTINUE, [&]() -> sfsistat {
        Session* s = session_of(ctx);
        if (s && s->conn) s->conn->on_end_of_headers();
        return SMFIS_CONTINUE;
    });
}

sfsistat on_body(SMFICTX* ctx, unsigned char* chunk, size_t len) {
    return guarded("body", SMFIS_CONTINUE, [&]() -> sfsistat {
        Session* s = session_of(ctx);
        if (!s || !s->conn) return SMFIS_CONTINUE;
        bool more = s->conn->on_body(std::string_view(reinterpret_cast<const char*>(chunk), len));
        if (!more && (s->steps & SMFIP_SKIP)) {
            s->body_skipped = true;
            return SMFIS_SKIP;
        }
        return SMFIS_CONTINUE;
    });
}

// Header edits first, then every body piece back to back: once anything else
// follows a body replacement, Postfix treats the body as closed.
void apply_edits(SMFICTX* ctx, EomEdits& e, unsigned long actions) {
    if (!e.new_sender.empty()) {
        if (!(actions & SMFIF_CHGFROM) || smfi_chgfrom(ctx, c_str(e.new_sender), nullptr) != MI_SUCCESS)
            log_warning("milter: eom: could not change the envelope sender to " + e.new_sender);
    }
    for (auto& r : e.rewrite_rcpts) {
        if (!(actions & SMFIF_DELRCPT) || !(actions & SMFIF_ADDRCPT)) {
            log_warning("milter: eom: the MTA did not allow recipient changes: " + r.first + " stays as it is");
            break;
        }
        // Add first: a failure then leaves both, never neither.
        if (smfi_addrcpt(ctx, c_str(r.second)) == MI_SUCCESS) {
            if (smfi_delrcpt(ctx, c_str(r.first)) != MI_SUCCESS)
                log_warning("milter: eom: could not remove recipient " + r.first);
        } else {
            log_warning("milter: eom: could not add recipient " + r.second);
        }
    }
    for (auto& h : e.add_headers)
        if (smfi_addheader(ctx, c_str(h.first), c_str(h.second)) != MI_SUCCESS)
            log_warning("milter: eom: the MTA refused header " + h.first);
    if (!e.replace_body) return;
    constexpr std::size_t kPiece = 65535;  // libmilter's limit per message
    auto* data = reinterpret_cast<unsigned char*>(e.new_body.data());
    if (e.new_body.empty()) {
        smfi_replacebody(ctx, nullptr, 0);
        return;
    }
    for (std::size_t off = 0; off < e.new_body.size(); off += kPiece) {
        int n = static_cast<int>(std::min(kPiece, e.new_body.size() - off));
        if (smfi_replacebody(ctx, data + off, n) != MI_SUCCESS) {
            // Only the first piece can fail alone (the action was not
            // negotiated); later failures mean a dead MTA connection, and the
            // MTA then applies its default action to the whole message.
            log_error("milter: eom: body replacement failed");
            return;
        }
    }
}

sfsistat on_eom(SMFICTX* ctx) {
    return guarded("eom", SMFIS_CONTINUE, [&]() -> sfsistat {
        Session* s = session_of(ctx);
        if (!s || !s->conn) return SMFIS_CONTINUE;
        std::string qid = macro(ctx, "i");
        EomEdits edits = s->conn->on_eom(s->body_skipped, qid);
        if (edits.replace_body && !(s->actions & SMFIF_CHGBODY)) {
            edits.replace_body = false;
            edits.add_headers.clear();
        }
        apply_edits(ctx, edits, s->actions);
        s->conn->on_message_end();
        s->body_skipped = false;
        return SMFIS_CONTINUE;
    });
}

sfsistat on_abort(SMFICTX* ctx) {
    return guarded("abort", SMFIS_CONTINUE, [&]() -> sfsistat {
        Session* s = session_of(ctx);
        if (s && s->conn) s->conn->on_message_end();
        return SMFIS_CONTINUE;
    });
}

// May run without connect, and under libmilter's pool lock: short, no blocking.
sfsistat on_close(SMFICTX* ctx) {
    return guarded("close", SMFIS_CONTINUE, [&]() -> sfsistat {
        Session* s = session_of(ctx);
        smfi_setpriv(ctx, nullptr);
        if (s && s->conn) g_services->metrics.connections_current.fetch_sub(1, std::memory_order_relaxed);
        delete s;
        return SMFIS_CONTINUE;
    });
}

}  // namespace

bool register_milter(RuntimeHolder* runtimes, Services* services) {
    g_runtimes = runtimes;
    g_services = services;
    struct smfiDesc desc = {};
    desc.xxfi_name = c_str("rcptguard");
    desc.xxfi_version = SMFI_VERSION;
    desc.xxfi_flags = SMFIF_SETSYMLIST | SMFIF_ADDHDRS | SMFIF_CHGBODY | SMFIF_CHGFROM | SMFIF_ADDRCPT | SMFIF_DELRCPT;
    desc.xxfi_connect = on_connect;
    desc.xxfi_envfrom = on_envfrom;
    desc.xxfi_envrcpt = on_envrcpt;
    desc.xxfi_data = on_data;
    desc.xxfi_header = on_header;
    desc.xxfi_eoh = on_eoh;
    desc.xxfi_body = on_body;
    desc.xxfi_eom = on_eom;
    desc.xxfi_abort = on_abort;
    desc.xxfi_close = on_close;
    desc.xxfi_negotiate = on_negotiate;
    return smfi_register(desc) == MI_SUCCESS;
}

}  // namespace rcptguard
