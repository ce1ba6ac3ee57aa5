"""The tests reach nothing beyond loopback. Run as root (as they must be),
run.py and tools/run-tests put every test in a network namespace of its own
whose one interface is its loopback: no test and no server it starts can send
a packet off the machine, and no result depends on the host's network (its
nameserver, its firewall). Starts nothing.
"""

import errno
import os
import socket
import unittest


class LoopbackOnly(unittest.TestCase):
    def setUp(self):
        self.assertEqual(os.environ.get("RCPTGUARD_TEST_NETNS"), "1",
                         "not in the tests' network namespace: run as root through run.py or tools/run-tests")

    def test_the_only_interface_is_loopback(self):
        self.assertEqual([name for _, name in socket.if_nameindex()], ["lo"])

    def test_no_route_beyond_loopback_for_ipv4_or_ipv6(self):
        # TEST-NET-1 (RFC 5737), the documentation prefix (RFC 3849), and a
        # private address such as a resolver's: connect() on a datagram socket
        # only picks a route, so nothing is sent even where one exists.
        for family, addr in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET, "10.255.255.53"),
                             (socket.AF_INET6, "2001:db8::1")):
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                with self.assertRaises(OSError, msg=addr) as caught:
                    s.connect((addr, 53))
                self.assertEqual(caught.exception.errno, errno.ENETUNREACH, addr)

    def test_loopback_works_both_ways(self):
        for family, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            with socket.socket(family, socket.SOCK_STREAM) as server:
                server.bind((addr, 0))
                server.listen(1)
                with socket.create_connection(server.getsockname()[:2], timeout=5) as client:
                    conn, _ = server.accept()
                    with conn:
                        client.sendall(b"ping")
                        self.assertEqual(conn.recv(4), b"ping")


if __name__ == "__main__":
    unittest.main()
