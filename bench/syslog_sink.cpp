// syslog_sink: a minimal syslog daemon for the benchmarks. It binds a unix
// datagram socket (make bench puts it on /dev/log inside a private mount
// namespace, so the machine's own logging is untouched), receives messages
// in batches (recvmmsg) and appends each as one line to a file, flushed after
// every batch, as a syslog daemon writing mail.log does. On SIGTERM it prints
// the number of messages received and exits.
//
//   syslog_sink SOCKET_PATH LOG_FILE
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace {

volatile sig_atomic_t g_stop = 0;
void on_term(int) { g_stop = 1; }

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: syslog_sink SOCKET_PATH LOG_FILE\n");
        return 64;
    }
    struct sigaction sa {};
    sa.sa_handler = on_term;  // no SA_RESTART: recvmmsg returns EINTR
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
    unlink(argv[1]);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        std::perror("syslog_sink: bind");
        return 1;
    }
    chmod(argv[1], 0666);
    int rcvbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    std::FILE* out = std::fopen(argv[2], "a");
    if (!out) {
        std::perror("syslog_sink: log file");
        return 1;
    }
    constexpr int kBatch = 64;
    static char bufs[kBatch][8192];
    iovec iov[kBatch];
    mmsghdr msgs[kBatch];
    unsigned long long count = 0;
    while (!g_stop) {
        for (int i = 0; i < kBatch; ++i) {
            iov[i] = {bufs[i], sizeof bufs[i]};
            msgs[i] = {};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        // Blocks for the first message, then takes what else is waiting.
        int n = recvmmsg(fd, msgs, kBatch, MSG_WAITFORONE, nullptr);
        if (n < 0) {
            if (errno == EINTR) continue;
            std::perror("syslog_sink: recvmmsg");
            break;
        }
        for (int i = 0; i < n; ++i) {
            std::fwrite(bufs[i], 1, msgs[i].msg_len, out);
            std::fputc('\n', out);
        }
        std::fflush(out);
        count += static_cast<unsigned long long>(n);
    }
    std::fclose(out);
    std::printf("%llu\n", count);
    return 0;
}
