// Unit tests for the policy service's listener (policyd/policy_service.hpp):
// a socket it cannot bind is a clear error naming the setting and the cause,
// and no descriptor leaks on the way out. (Descriptor exhaustion while
// serving is tested end to end in tests/integration/test_policy_service.py.)
#include "policyd/policy_service.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/test_support.hpp"
#include "util/unique_fd.hpp"

namespace rcptguard {
namespace {

int open_descriptors() {
    int n = 0;
    DIR* d = opendir("/proc/self/fd");
    if (!d) return -1;
    while (readdir(d)) ++n;
    closedir(d);
    return n;
}

// A listening socket on a free loopback port; returns the port.
int occupy_port(UniqueFd* holder) {
    holder->reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    struct sockaddr_in sin = {};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(holder->get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
    EXPECT_EQ(listen(holder->get(), 1), 0);
    socklen_t len = sizeof sin;
    getsockname(holder->get(), reinterpret_cast<sockaddr*>(&sin), &len);
    return ntohs(sin.sin_port);
}

std::string error_of(const std::string& spec) {
    try {
        UniqueFd fd(open_policy_socket(spec, 0660, static_cast<gid_t>(-1)));
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

TEST(PolicyListener, PortInUse_ClearError_NoDescriptorLeaked) {
    UniqueFd busy;
    int port = occupy_port(&busy);
    std::string spec = "inet:127.0.0.1:" + std::to_string(port);
    int before = open_descriptors();
    std::string e = error_of(spec);
    EXPECT_EQ(e, "policy_socket " + spec + ": cannot listen: bind: Address already in use");
    EXPECT_EQ(open_descriptors(), before);
}

TEST(PolicyListener, UnixSocketInMissingDirectory_ClearError_NoDescriptorLeaked) {
    testing::TempDir d;
    std::string spec = "unix:" + d.file("no/such/dir/policy.sock");
    int before = open_descriptors();
    EXPECT_EQ(error_of(spec), "policy_socket " + spec + ": cannot listen: bind: No such file or directory");
    EXPECT_EQ(open_descriptors(), before);
}

TEST(PolicyListener, FreePort_Listens) {
    UniqueFd busy;
    int port = occupy_port(&busy);
    busy.reset();  // free again
    UniqueFd fd(open_policy_socket("inet:127.0.0.1:" + std::to_string(port), 0660, static_cast<gid_t>(-1)));
    EXPECT_TRUE(fd);
}

}  // namespace
}  // namespace rcptguard
