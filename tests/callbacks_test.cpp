// Unit tests for the libmilter door (milter/callbacks.cpp), driven through a
// fake libmilter (tests/fakes/fake_libmilter.hpp): the callbacks are called as
// libmilter would call them, and a reload is injected between the steps of one
// MTA connection. A connection must keep the configuration snapshot it was
// negotiated with until it closes.
#include "milter/callbacks.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include "tests/fakes/fake_backend.hpp"
#include "tests/fakes/fake_clock.hpp"
#include "tests/fakes/fake_libmilter.hpp"
#include "util/log.hpp"

namespace rcptguard {
namespace {

using testing::FakeBackend;
using testing::FakeClock;
using testing::FakeMilterContext;
using testing::FakeSleeper;

// Everything an MTA offers (Postfix 3.7 offers all actions and steps).
constexpr unsigned long kAllActions = SMFIF_ADDHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_CHGHDRS |
                                      SMFIF_QUARANTINE | SMFIF_CHGFROM | SMFIF_ADDRCPT_PAR | SMFIF_SETSYMLIST;
constexpr unsigned long kAllSteps = 0x001FFFFF;

class CallbacksTest : public ::testing::Test {
protected:
    void SetUp() override {
        set_log_level(LogLevel::Error);
        backend_ = std::make_shared<FakeBackend>("users");
        backend_->add("user@example.test");
        holder_.publish(runtime(1, /*monitor=*/false, /*strip=*/true));
        ASSERT_TRUE(register_milter(&holder_, &services_));
        desc_ = testing::registered_milter();
    }
    void TearDown() override { set_log_level(LogLevel::Info); }

    // Generation 1 enforces and strips bounces; the "reloaded" generations
    // are in monitor mode and do not strip: a mix-up shows in the replies.
    std::shared_ptr<const Runtime> runtime(unsigned long serial, bool monitor, bool strip) {
        auto rt = std::make_shared<Runtime>();
        auto s = std::make_shared<Settings>();
        s->recipients.domains.add_exact("example.test");
        s->recipients.monitor = monitor;
        s->tarpit.enabled = false;
        s->tarpit.ban.ban_threshold = 0;  // the tests send many unknown recipients from one address
        s->bounces.enabled = strip;
        rt->backends = {backend_};
        rt->rules = std::make_shared<RecipientRules>(s->recipients, std::make_shared<BackendChain>(rt->backends));
        rt->settings = s;
        rt->serial = serial;
        return rt;
    }
    void reload(bool monitor = true, bool strip = false) {
        auto now = holder_.get();
        holder_.publish(runtime(now->serial + 1, monitor, strip));
    }

    unsigned long negotiate(FakeMilterContext* ctx) {
        unsigned long f0 = 0, f1 = 0, f2 = 0, f3 = 0;
        EXPECT_EQ(desc_.xxfi_negotiate(ctx, kAllActions, kAllSteps, 0, 0, &f0, &f1, &f2, &f3), SMFIS_CONTINUE);
        return f1;
    }
    sfsistat connect(FakeMilterContext* ctx) {
        struct sockaddr_in sin = {};
        sin.sin_family = AF_INET;
        inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr);
        return desc_.xxfi_connect(ctx, const_cast<char*>("mx.client.test"), reinterpret_cast<sockaddr*>(&sin));
    }
    sfsistat mail(FakeMilterContext* ctx, const char* sender) {
        char* argv[] = {const_cast<char*>(sender), nullptr};
        return desc_.xxfi_envfrom(ctx, argv);
    }
    sfsistat rcpt(FakeMilterContext* ctx, const char* addr) {
        char* argv[] = {const_cast<char*>(addr), nullptr};
        return desc_.xxfi_envrcpt(ctx, argv);
    }
    void close(FakeMilterContext* ctx) { desc_.xxfi_close(ctx); }

    std::shared_ptr<FakeBackend> backend_;
    RuntimeHolder holder_;
    FakeClock clock_;
    FakeSleeper sleeper_{clock_};
    LocalClientState clients_{LocalStateOptions{1000, "", "", nullptr}, clock_};
    Tarpit tarpit_{clients_, sleeper_, clock_};
    Metrics metrics_;
    Services services_{clock_, tarpit_, metrics_};
    smfiDesc desc_{};
};

TEST_F(CallbacksTest, NoReload_UnknownRecipientRejected) {
    FakeMilterContext ctx;
    negotiate(&ctx);
    connect(&ctx);
    mail(&ctx, "<sender@client.test>");
    EXPECT_EQ(rcpt(&ctx, "<user@example.test>"), SMFIS_CONTINUE);
    EXPECT_EQ(rcpt(&ctx, "<nobody@example.test>"), SMFIS_REJECT);
    EXPECT_EQ(ctx.reply_code, "550");
    EXPECT_EQ(ctx.reply_xcode, "5.1.1");
    close(&ctx);
    EXPECT_EQ(ctx.priv, nullptr);
}

TEST_F(CallbacksTest, ReloadBetweenNegotiateAndConnect_ConnectionKeepsNegotiatedSnapshot) {
    FakeMilterContext ctx;
    unsigned long steps = negotiate(&ctx);
    // Negotiated under generation 1, which strips bounces: the body is wanted.
    EXPECT_EQ(steps & SMFIP_NOBODY, 0u);
    reload();  // generation 2: monitor mode, no stripping
    connect(&ctx);
    mail(&ctx, "<sender@client.test>");
    // Generation 1 enforces: the unknown recipient is rejected, not waved through.
    EXPECT_EQ(rcpt(&ctx, "<nobody@example.test>"), SMFIS_REJECT);
    close(&ctx);
}

TEST_F(CallbacksTest, ReloadAfterConnect_LaterCommandsUseConnectionSnapshot) {
    FakeMilterContext ctx;
    negotiate(&ctx);
    connect(&ctx);
    reload();
    mail(&ctx, "<sender@client.test>");
    EXPECT_EQ(rcpt(&ctx, "<nobody@example.test>"), SMFIS_REJECT);
    reload();
    EXPECT_EQ(rcpt(&ctx, "<nobody2@example.test>"), SMFIS_REJECT);
    close(&ctx);
    // A connection that starts now gets the newest generation (monitor mode).
    FakeMilterContext next;
    negotiate(&next);
    connect(&next);
    mail(&next, "<sender@client.test>");
    EXPECT_EQ(rcpt(&next, "<nobody@example.test>"), SMFIS_CONTINUE);
    close(&next);
}

TEST_F(CallbacksTest, ReloadsRacingManyConnections_NeverMixSnapshots) {
    // Connections interleaved with reloads that flip between enforce and
    // monitor: each connection's verdict follows the generation it was
    // negotiated under, whatever happened after.
    constexpr int kConnections = 40;
    std::vector<FakeMilterContext> ctx(kConnections);
    std::vector<bool> enforcing(kConnections);
    for (int i = 0; i < kConnections; ++i) {
        enforcing[i] = !holder_.get()->settings->recipients.monitor;
        negotiate(&ctx[i]);
        reload(/*monitor=*/i % 2 == 0, /*strip=*/i % 3 == 0);
    }
    for (int i = 0; i < kConnections; ++i) {
        connect(&ctx[i]);
        reload(i % 2 == 1);
        mail(&ctx[i], "<sender@client.test>");
    }
    for (int i = 0; i < kConnections; ++i) {
        reload(i % 3 == 1);
        EXPECT_EQ(rcpt(&ctx[i], "<nobody@example.test>"), enforcing[i] ? SMFIS_REJECT : SMFIS_CONTINUE)
            << "connection " << i;
        close(&ctx[i]);
    }
}

TEST_F(CallbacksTest, ConnectWithoutNegotiate_UsesCurrentSnapshot) {
    FakeMilterContext ctx;  // milter protocol < 6: no negotiation
    reload(/*monitor=*/false);
    connect(&ctx);
    mail(&ctx, "<sender@client.test>");
    EXPECT_EQ(rcpt(&ctx, "<nobody@example.test>"), SMFIS_REJECT);
    close(&ctx);
}

}  // namespace
}  // namespace rcptguard
