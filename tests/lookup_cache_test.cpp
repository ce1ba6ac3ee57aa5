// Unit tests for the lookup cache (milter/cache/lookup_cache.hpp) with an
// injected clock: TTLs, TempFail never cached, serve-stale (Found only),
// the size bound and invalidation when a backend's data changes.
#include "core/cache/lookup_cache.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <thread>
#include <utility>

#include "tests/fakes/fake_backend.hpp"
#include "tests/fakes/fake_clock.hpp"

namespace rcptguard {
namespace {

using std::chrono::seconds;
using testing::FakeBackend;
using testing::FakeClock;

// A backend whose data "changes" on demand (generation moves).
class ChangingBackend final : public Backend {
public:
    ChangingBackend() : Backend("changing", "fake") {}
    LookupResult lookup(std::string_view key) const noexcept override {
        LookupResult r = inner.lookup(key);
        if (during_lookup) std::exchange(during_lookup, nullptr)();
        return r;
    }
    unsigned long generation() const noexcept override { return gen.load(); }
    FakeBackend inner{"inner"};
    std::atomic<unsigned long> gen{1};
    // Runs once, inside the next lookup, after the answer was read.
    mutable std::function<void()> during_lookup;
};

class CacheTest : public ::testing::Test {
protected:
    void SetUp() override {
        backend_ = std::make_shared<ChangingBackend>();
        backend_->inner.add("user@example.test");
        settings_.positive_ttl = seconds(600);
        settings_.negative_ttl = seconds(60);
        settings_.stale_ttl = seconds(3600);
        settings_.max_entries = 1000;
    }
    std::unique_ptr<CachedLookup> make() {
        auto chain = std::make_shared<BackendChain>(std::vector<BackendPtr>{backend_}, &metrics_);
        return std::make_unique<CachedLookup>(chain, settings_, clock_, &metrics_);
    }
    size_t backend_calls() { return backend_->inner.calls().size(); }

    std::shared_ptr<ChangingBackend> backend_;
    CacheSettings settings_;
    FakeClock clock_;
    Metrics metrics_;
};

TEST_F(CacheTest, Found_CachedForPositiveTtl) {
    auto c = make();
    EXPECT_EQ(c->lookup({"user@example.test"}).status, LookupStatus::Found);
    EXPECT_EQ(c->lookup({"user@example.test"}).status, LookupStatus::Found);
    EXPECT_EQ(backend_calls(), 1u);
    clock_.advance(seconds(599));
    c->lookup({"user@example.test"});
    EXPECT_EQ(backend_calls(), 1u);
    clock_.advance(seconds(2));
    c->lookup({"user@example.test"});
    EXPECT_EQ(backend_calls(), 2u);
    EXPECT_EQ(metrics_.cache_hits.load(), 2u);
    EXPECT_EQ(metrics_.cache_misses.load(), 2u);
}

TEST_F(CacheTest, NotFound_CachedForNegativeTtlOnly) {
    auto c = make();
    EXPECT_EQ(c->lookup({"x@example.test"}).status, LookupStatus::NotFound);
    clock_.advance(seconds(59));
    EXPECT_EQ(c->lookup({"x@example.test"}).status, LookupStatus::NotFound);
    EXPECT_EQ(backend_calls(), 1u);
    clock_.advance(seconds(2));
    backend_->inner.add("x@example.test");
    EXPECT_EQ(c->lookup({"x@example.test"}).status, LookupStatus::Found);
}

// The race the check closes: a lookup reads the old data, the data changes
// and another lookup empties the cache, then the first one would store its
// old answer for negative_ttl.
TEST_F(CacheTest, DataChangedWhileAsking_AnswerGivenButNotKept) {
    auto c = make();
    backend_->during_lookup = [&] {
        backend_->inner.add("x@example.test");
        backend_->gen++;
        c->lookup({"other@example.test"});  // another thread's lookup: empties the cache
    };
    EXPECT_EQ(c->lookup({"x@example.test"}).status, LookupStatus::NotFound);  // read before the change
    EXPECT_EQ(c->lookup({"x@example.test"}).status, LookupStatus::Found);
}

TEST_F(CacheTest, TempFail_NeverCached) {
    auto c = make();
    backend_->inner.fail("y@example.test");
    EXPECT_EQ(c->lookup({"y@example.test"}).status, LookupStatus::TempFail);
    EXPECT_EQ(c->lookup({"y@example.test"}).status, LookupStatus::TempFail);
    EXPECT_EQ(backend_calls(), 2u);
    EXPECT_EQ(c->size(), 0u);
}

TEST_F(CacheTest, ServeStale_FoundWithinStaleTtl_DuringOutage) {
    auto c = make();
    c->lookup({"user@example.test"});
    clock_.advance(seconds(700));  // past the positive TTL
    backend_->inner.fail_everything(true);
    KeyAnswer a = c->lookup({"user@example.test"});
    EXPECT_EQ(a.status, LookupStatus::Found);
    EXPECT_TRUE(a.stale);
    EXPECT_NE(a.reason.find("fake outage"), std::string::npos);
    EXPECT_EQ(metrics_.cache_stale.load(), 1u);
    clock_.advance(seconds(3000));  // now 3700s after it was confirmed
    EXPECT_EQ(c->lookup({"user@example.test"}).status, LookupStatus::TempFail);
}

TEST_F(CacheTest, ServeStale_NeverForNotFound) {
    auto c = make();
    c->lookup({"x@example.test"});
    clock_.advance(seconds(61));
    backend_->inner.fail_everything(true);
    EXPECT_EQ(c->lookup({"x@example.test"}).status, LookupStatus::TempFail);
}

TEST_F(CacheTest, StaleTtlZero_NoServeStale) {
    settings_.stale_ttl = seconds(0);
    auto c = make();
    c->lookup({"user@example.test"});
    clock_.advance(seconds(601));
    backend_->inner.fail_everything(true);
    EXPECT_EQ(c->lookup({"user@example.test"}).status, LookupStatus::TempFail);
}

TEST_F(CacheTest, FreshTempFailWithinTtl_CachedAnswerStillServed) {
    auto c = make();
    c->lookup({"user@example.test"});
    backend_->inner.fail_everything(true);
    KeyAnswer a = c->lookup({"user@example.test"});
    EXPECT_EQ(a.status, LookupStatus::Found);
    EXPECT_FALSE(a.stale);  // a plain hit: the backend was not even asked
}

TEST_F(CacheTest, BackendDataChanged_CacheEmptied) {
    auto c = make();
    EXPECT_EQ(c->lookup({"new@example.test"}).status, LookupStatus::NotFound);
    backend_->inner.add("new@example.test");
    EXPECT_EQ(c->lookup({"new@example.test"}).status, LookupStatus::NotFound);  // negative entry
    backend_->gen++;                                                            // e.g. the sqlite3 shell inserted a row
    EXPECT_EQ(c->lookup({"new@example.test"}).status, LookupStatus::Found);
}

TEST_F(CacheTest, SizeBounded_LeastRecentlyUsedEvicted) {
    settings_.max_entries = 160;  // 10 per shard
    auto c = make();
    for (int i = 0; i < 5000; ++i) c->lookup({"u" + std::to_string(i) + "@example.test"});
    EXPECT_LE(c->size(), 160u);
}

TEST_F(CacheTest, EntryKeyedByFullAddress_RemembersMatchedKey) {
    backend_->inner.add("@example.test");
    auto c = make();
    KeyAnswer a = c->lookup({"x+y@example.test", "x@example.test", "@example.test"});
    EXPECT_EQ(a.status, LookupStatus::Found);
    EXPECT_EQ(a.key, "@example.test");
    KeyAnswer b = c->lookup({"x+y@example.test", "x@example.test", "@example.test"});
    EXPECT_EQ(b.key, "@example.test");
    EXPECT_EQ(backend_calls(), 3u);  // the first time only
}

TEST_F(CacheTest, CatchAllRememberedPerDomain_UnknownAddressesCostOneKeyEach) {
    auto c = make();
    EXPECT_EQ(c->lookup({"n1@example.test", "@example.test"}).status, LookupStatus::NotFound);
    EXPECT_EQ(c->lookup({"n2@example.test", "@example.test"}).status, LookupStatus::NotFound);
    EXPECT_EQ(c->lookup({"n3+x@example.test", "n3@example.test", "@example.test"}).status, LookupStatus::NotFound);
    std::vector<std::string> want = {"n1@example.test", "@example.test", "n2@example.test", "n3+x@example.test",
                                     "n3@example.test"};
    EXPECT_EQ(backend_->inner.calls(), want);
    // A valid user is still found while the catch-all is known to be absent.
    EXPECT_EQ(c->lookup({"user@example.test", "@example.test"}).status, LookupStatus::Found);
    // The negative catch-all entry expires like any other.
    clock_.advance(seconds(61));
    backend_->inner.add("@example.test");
    KeyAnswer a = c->lookup({"n4@example.test", "@example.test"});
    EXPECT_EQ(a.status, LookupStatus::Found);
    EXPECT_EQ(a.key, "@example.test");
    // Now found for the whole domain without asking again.
    size_t calls = backend_calls();
    EXPECT_EQ(c->lookup({"n5@example.test", "@example.test"}).key, "@example.test");
    EXPECT_EQ(backend_calls(), calls);
}

TEST_F(CacheTest, IdnCatchAllPair_RememberedAsOne_UnknownAddressesCostTheirOwnKeysOnly) {
    // An internationalised domain's keys: each in both forms (util/address.hpp).
    auto keys = [](const std::string& local) {
        return std::vector<std::string>{local + "@xn--bcher-kva.test", local + "@b\xC3\xBC\x63her.test",
                                        "@xn--bcher-kva.test", "@b\xC3\xBC\x63her.test"};
    };
    auto c = make();
    EXPECT_EQ(c->lookup(keys("n1")).status, LookupStatus::NotFound);
    EXPECT_EQ(c->lookup(keys("n2")).status, LookupStatus::NotFound);
    std::vector<std::string> want = {"n1@xn--bcher-kva.test",  "n1@b\xC3\xBC\x63her.test", "@xn--bcher-kva.test",
                                     "@b\xC3\xBC\x63her.test", "n2@xn--bcher-kva.test",    "n2@b\xC3\xBC\x63her.test"};
    EXPECT_EQ(backend_->inner.calls(), want);
    // A catch-all stored in the U-label form is found for the whole domain.
    clock_.advance(seconds(61));
    backend_->inner.add("@b\xC3\xBC\x63her.test");
    EXPECT_EQ(c->lookup(keys("n3")).key, "@b\xC3\xBC\x63her.test");
    size_t calls = backend_calls();
    EXPECT_EQ(c->lookup(keys("n4")).key, "@b\xC3\xBC\x63her.test");
    EXPECT_EQ(backend_calls(), calls);
}

TEST_F(CacheTest, CatchAllKnownAbsent_BackendOutage_StillTempFail) {
    auto c = make();
    c->lookup({"n1@example.test", "@example.test"});
    backend_->inner.fail_everything(true);
    EXPECT_EQ(c->lookup({"n2@example.test", "@example.test"}).status, LookupStatus::TempFail);
}

TEST_F(CacheTest, LookupAtOnce_AnswersFromTheCacheOnly_AsksNothingOnAMiss) {
    auto c = make();  // the backend is not on this host
    EXPECT_FALSE(c->lookup_at_once({"user@example.test"}).has_value());
    EXPECT_EQ(backend_calls(), 0u);
    EXPECT_EQ(metrics_.cache_misses.load(), 0u);  // counted when the lookup really happens
    EXPECT_EQ(c->lookup({"user@example.test"}).status, LookupStatus::Found);
    auto hit = c->lookup_at_once({"user@example.test"});
    ASSERT_TRUE(hit.has_value());
    EXPECT_EQ(hit->status, LookupStatus::Found);
    EXPECT_EQ(hit->key, "user@example.test");
    EXPECT_EQ(backend_calls(), 1u);
    // A NotFound is answered at once while it is fresh, and never after.
    c->lookup({"n1@example.test", "@example.test"});
    auto absent = c->lookup_at_once({"n1@example.test", "@example.test"});
    ASSERT_TRUE(absent.has_value());
    EXPECT_EQ(absent->status, LookupStatus::NotFound);
    // Another unknown address of the domain: the catch-all is known to be
    // absent, but the address itself still needs the backend.
    EXPECT_FALSE(c->lookup_at_once({"n2@example.test", "@example.test"}).has_value());
    clock_.advance(seconds(61));
    EXPECT_FALSE(c->lookup_at_once({"n1@example.test", "@example.test"}).has_value());
    // A catch-all found for the domain answers every address of it at once.
    backend_->inner.add("@example.test");
    c->lookup({"n3@example.test", "@example.test"});
    auto caught = c->lookup_at_once({"n4@example.test", "@example.test"});
    ASSERT_TRUE(caught.has_value());
    EXPECT_EQ(caught->key, "@example.test");
    // A stale Found is no answer at once: only a worker may ask the backend
    // and serve it if the backend fails.
    clock_.advance(seconds(601));
    EXPECT_FALSE(c->lookup_at_once({"user@example.test"}).has_value());
    EXPECT_EQ(backend_calls(), 5u);  // user; n1 and @example.test; n3 and @example.test (expired)
}

TEST_F(CacheTest, LookupAtOnce_LocalStores_AskedAsUsual) {
    auto local = std::make_shared<FakeBackend>("local");
    local->set_local(true);
    local->add("user@example.test");
    for (bool enabled : {true, false}) {
        settings_.enabled = enabled;
        auto chain = std::make_shared<BackendChain>(std::vector<BackendPtr>{local}, &metrics_);
        CachedLookup c(chain, settings_, clock_, &metrics_);
        auto a = c.lookup_at_once({"user@example.test"});
        ASSERT_TRUE(a.has_value());
        EXPECT_EQ(a->status, LookupStatus::Found);
    }
    EXPECT_EQ(local->calls().size(), 2u);
    // A chain with one store elsewhere waits, even if the first is local.
    auto mixed = std::make_shared<BackendChain>(std::vector<BackendPtr>{local, backend_}, &metrics_);
    EXPECT_FALSE(mixed->local());
    EXPECT_FALSE(mixed->lookup_at_once({"user@example.test"}).has_value());
    EXPECT_EQ(local->calls().size(), 2u);
}

TEST_F(CacheTest, Disabled_AlwaysAsksBackend) {
    settings_.enabled = false;
    auto c = make();
    c->lookup({"user@example.test"});
    c->lookup({"user@example.test"});
    EXPECT_EQ(backend_calls(), 2u);
}

TEST_F(CacheTest, ConcurrentLookups_ConsistentAnswers) {
    auto c = make();
    std::atomic<int> wrong{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 8; ++t)
        ts.emplace_back([&, t] {
            for (int i = 0; i < 2000; ++i) {
                bool user = (i + t) % 3 == 0;
                auto s =
                    c->lookup({user ? "user@example.test" : "n" + std::to_string(i % 50) + "@example.test"}).status;
                if (s != (user ? LookupStatus::Found : LookupStatus::NotFound)) ++wrong;
                if (i % 500 == 0) backend_->gen++;
            }
        });
    for (auto& th : ts) th.join();
    EXPECT_EQ(wrong.load(), 0);
}

TEST(CacheConfig, Keys_Parsed) {
    ConfigFile f = parse_config_text(
        "cache_positive_ttl = 5m\ncache_negative_ttl = 10s\ncache_stale_ttl = 0\n"
        "cache_size = 5000\ncache = yes\n",
        "t");
    SectionReader r(f, f.global);
    CacheSettings s = read_cache_settings(r);
    EXPECT_EQ(s.positive_ttl, seconds(300));
    EXPECT_EQ(s.negative_ttl, seconds(10));
    EXPECT_EQ(s.stale_ttl, seconds(0));
    EXPECT_EQ(s.max_entries, 5000u);
    r.finish();
}

}  // namespace
}  // namespace rcptguard
