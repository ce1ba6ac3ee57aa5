// File-backend behaviour beyond the contract: format, automatic reload, and
// a broken or vanished file keeping the previous contents.
#include "backends/file/file_backend.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <cstdio>

#include "tests/test_support.hpp"

namespace rcptguard {
namespace {

using testing::TempDir;

// Moves a file's mtime into the past so maintain() does not wait for it to settle.
void age(const std::string& path, int seconds_ago = 5) {
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    struct utimbuf t {
        st.st_atime, time(nullptr) - seconds_ago
    };
    ASSERT_EQ(utime(path.c_str(), &t), 0);
}

TEST(FileBackend, Format_CommentsBlankLinesPostfixMapValues) {
    TempDir d;
    testing::write_file(d.file("u"),
                        "# comment\n\n   \nUser@Example.TEST   OK\r\n  @catch.test\t# all\n"
                        "\"john doe\"@example.test  REJECT-ignored\n");
    FileBackend b("f", d.file("u"), AddressOptions{});
    ASSERT_EQ(b.load(), "");
    EXPECT_EQ(b.size(), 3u);
    EXPECT_EQ(b.lookup("user@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("@catch.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("\"john doe\"@example.test").status, LookupStatus::Found);
}

TEST(FileBackend, InternationalEntries_CanonicalisedAtLoad) {
    TempDir d;
    testing::write_file(d.file("u"),
                        "J\xC3\xB6rg@B\xC3\xBC\x63her.test\nuser@XN--BCHER-KVA.test\n\xC3\x9C\x53\x45R@example.test\n"
                        "@caf\xC3\xA9.test\n");
    FileBackend b("f", d.file("u"), AddressOptions{});
    ASSERT_EQ(b.load(), "");
    // One form in memory: the canonical one the daemon asks first.
    EXPECT_EQ(b.lookup("j\xC3\xB6rg@xn--bcher-kva.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("user@xn--bcher-kva.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("\xC3\xBCser@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("@xn--caf-dma.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("j\xC3\xB6rg@b\xC3\xBC\x63her.test").status, LookupStatus::NotFound);
}

TEST(FileBackend, InvalidIdnEntry_ReportsLine) {
    TempDir d;
    testing::write_file(d.file("u"), "a@example.test\nb@xn--zzzz.test\n");
    FileBackend b("f", d.file("u"), AddressOptions{});
    std::string err = b.load();
    EXPECT_NE(err.find(d.file("u") + ":2: invalid domain"), std::string::npos) << err;
}

TEST(FileBackend, BadLine_ReportsPathAndLine) {
    TempDir d;
    testing::write_file(d.file("u"), "a@example.test\n\nnodomain\n");
    FileBackend b("f", d.file("u"), AddressOptions{});
    std::string err = b.load();
    EXPECT_NE(err.find(d.file("u") + ":3: address has no domain"), std::string::npos) << err;
}

TEST(FileBackend, ChangedFile_ReloadedByMaintain) {
    TempDir d;
    testing::write_file(d.file("u"), "a@example.test\n");
    FileBackend b("f", d.file("u"), AddressOptions{});
    ASSERT_EQ(b.load(), "");
    unsigned long g = b.generation();
    testing::write_file(d.file("u"), "a@example.test\nb@example.test\n");
    age(d.file("u"));
    b.maintain();
    EXPECT_EQ(b.lookup("b@example.test").status, LookupStatus::Found);
    EXPECT_GT(b.generation(), g);
}

TEST(FileBackend, FreshlyWrittenFile_WaitsToSettle) {
    TempDir d;
    testing::write_file(d.file("u"), "a@example.test\n");
    age(d.file("u"));
    FileBackend b("f", d.file("u"), AddressOptions{});
    ASSERT_EQ(b.load(), "");
    testing::write_file(d.file("u"), "a@example.test\nb@example.test\n");  // mtime = now
    b.maintain();
    EXPECT_EQ(b.lookup("b@example.test").status, LookupStatus::NotFound);
    age(d.file("u"));
    b.maintain();
    EXPECT_EQ(b.lookup("b@example.test").status, LookupStatus::Found);
}

TEST(FileBackend, BrokenReload_KeepsPreviousContents) {
    TempDir d;
    testing::write_file(d.file("u"), "a@example.test\n");
    FileBackend b("f", d.file("u"), AddressOptions{});
    ASSERT_EQ(b.load(), "");
    testing::write_file(d.file("u"), "b@example.test\nbroken line here\n");
    age(d.file("u"));
    b.maintain();
    EXPECT_EQ(b.lookup("a@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("b@example.test").status, LookupStatus::NotFound);
    // Fixed later: picked up.
    testing::write_file(d.file("u"), "b@example.test\n");
    age(d.file("u"), 3);
    b.maintain();
    EXPECT_EQ(b.lookup("b@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("a@example.test").status, LookupStatus::NotFound);
}

TEST(FileBackend, FileRemoved_KeepsPreviousContents) {
    TempDir d;
    testing::write_file(d.file("u"), "a@example.test\n");
    FileBackend b("f", d.file("u"), AddressOptions{});
    ASSERT_EQ(b.load(), "");
    std::remove(d.file("u").c_str());
    b.maintain();
    EXPECT_EQ(b.lookup("a@example.test").status, LookupStatus::Found);
}

TEST(FileBackend, ReplacedByRename_Reloaded) {
    TempDir d;
    testing::write_file(d.file("u"), "a@example.test\n");
    FileBackend b("f", d.file("u"), AddressOptions{});
    ASSERT_EQ(b.load(), "");
    testing::write_file(d.file("u.new"), "c@example.test\n");
    age(d.file("u.new"));
    ASSERT_EQ(std::rename(d.file("u.new").c_str(), d.file("u").c_str()), 0);
    b.maintain();
    EXPECT_EQ(b.lookup("c@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("a@example.test").status, LookupStatus::NotFound);
}

TEST(FileBackend, CaseSensitiveOption_KeepsLocalCase) {
    TempDir d;
    testing::write_file(d.file("u"), "John@Example.test\n");
    AddressOptions o;
    o.fold_local_case = false;
    FileBackend b("f", d.file("u"), o);
    ASSERT_EQ(b.load(), "");
    EXPECT_EQ(b.lookup("John@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("john@example.test").status, LookupStatus::NotFound);
}

}  // namespace
}  // namespace rcptguard
