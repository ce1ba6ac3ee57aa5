// null_policy: the no-lookup yardstick for rcptguard's policy service. A
// Postfix policy server (SMTPD_POLICY_README: name=value lines, a blank line
// ends a request, "action=..." and a blank line answer it) on one epoll
// thread, answering by name alone exactly as bench/null_milter does: local
// parts starting with "nx", ending in "nobody" or "<even digit>u" get
// "action=550 5.1.1 <addr>: Recipient address rejected: User unknown", all
// others "action=DUNNO". Whatever it reaches is the ceiling of any policy
// server here.
//
//   null_policy PORT        (listens on 127.0.0.1:PORT)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>

namespace {

bool refused_by_name(const std::string& a) {
    std::size_t at = a.find('@');
    std::size_t n = at == std::string::npos ? a.size() : at;
    if (n >= 2 && a.compare(0, 2, "nx") == 0) return true;
    if (n >= 6 && a.compare(n - 6, 6, "nobody") == 0) return true;
    if (n >= 2 && a[n - 1] == 'u' && a[n - 2] >= '0' && a[n - 2] <= '9') return (a[n - 2] - '0') % 2 == 0;
    return false;
}

// Answers every complete request in buf; leaves a partial one in place.
void answer(std::string* buf, std::string* out) {
    std::size_t start = 0;
    for (;;) {
        std::size_t end = buf->find("\n\n", start);
        if (end == std::string::npos) break;
        std::string recipient;
        std::size_t r = buf->find("recipient=", start);
        if (r != std::string::npos && r < end && (r == start || (*buf)[r - 1] == '\n')) {
            std::size_t e = buf->find('\n', r);
            recipient = buf->substr(r + 10, e - r - 10);
        }
        if (refused_by_name(recipient))
            *out += "action=550 5.1.1 <" + recipient + ">: Recipient address rejected: User unknown\n\n";
        else
            *out += "action=DUNNO\n\n";
        start = end + 2;
    }
    buf->erase(0, start);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: null_policy PORT\n");
        return 64;
    }
    signal(SIGPIPE, SIG_IGN);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[1])));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(lfd, 512) != 0) {
        std::perror("null_policy: bind/listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    std::unordered_map<int, std::string> pending;
    epoll_event events[64];
    char chunk[16384];
    for (;;) {
        int n = epoll_wait(ep, events, 64, -1);
        for (int i = 0; i < n; ++i) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                int c = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
                if (c < 0) continue;
                epoll_event cev{};
                cev.events = EPOLLIN;
                cev.data.fd = c;
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                pending[c];
                continue;
            }
            ssize_t got = read(fd, chunk, sizeof chunk);
            if (got <= 0) {
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
                close(fd);
                pending.erase(fd);
                continue;
            }
            std::string& buf = pending[fd];
            buf.append(chunk, static_cast<std::size_t>(got));
            std::string out;
            answer(&buf, &out);
            // Replies are small and Postfix waits for each: a blocking write is fine.
            for (std::size_t off = 0; off < out.size();) {
                ssize_t w = write(fd, out.data() + off, out.size() - off);
                if (w <= 0) break;
                off += static_cast<std::size_t>(w);
            }
        }
    }
}
