-- miltertest script: drives rcptguard through the milter protocol without an
-- MTA (an independent client implementation: miltertest, not libmilter's).
-- Expects rcptguard listening on the socket in MILTER_SOCKET with the users of
-- tests/integration/test_miltertest.py. Prints "miltertest: N passed, N failed".

local socket = os.getenv("MILTER_SOCKET")
local passed, failed = 0, 0

local function check(name, cond)
  if cond then
    passed = passed + 1
    print("ok     " .. name)
  else
    failed = failed + 1
    print("FAILED " .. name)
  end
end

local function session(host, ip)
  local conn = mt.connect(socket, 10, 0.5)
  assert(conn, "cannot connect to " .. socket)
  assert(mt.conninfo(conn, host, ip) == nil, "conninfo failed")
  return conn
end

local function rcpt(conn, addr)
  assert(mt.rcptto(conn, addr) == nil, "rcptto failed")
  return mt.getreply(conn)
end

local ok, err = pcall(function()
  local conn = session("client.test", "192.0.2.10")
  check("negotiated away HELO", mt.test_option(conn, SMFIP_NOHELO))
  check("no reply needed at connect", mt.test_option(conn, SMFIP_NR_CONN))
  assert(mt.mailfrom(conn, "<sender@client.test>") == nil)
  check("known user continues", rcpt(conn, "<alice@example.test>") == SMFIR_CONTINUE)
  check("unknown user gets a custom reply", rcpt(conn, "<nosuch@example.test>") == SMFIR_REPLYCODE)
  check("+detail continues", rcpt(conn, "<alice+tag@example.test>") == SMFIR_CONTINUE)
  check("catch-all continues", rcpt(conn, "<whoever@catchall.test>") == SMFIR_CONTINUE)
  check("other domain continues", rcpt(conn, "<x@other.test>") == SMFIR_CONTINUE)
  check("postmaster continues", rcpt(conn, "<postmaster@example.test>") == SMFIR_CONTINUE)
  check("bracket-less form (Postfix non-SMTP) judged", rcpt(conn, "nosuch2@example.test") == SMFIR_REPLYCODE)
  check("bracket-less valid form continues", rcpt(conn, "alice@example.test") == SMFIR_CONTINUE)
  check("broken syntax in our domain refused", rcpt(conn, "<a b@example.test>") == SMFIR_REPLYCODE)
  check("hostile SQL is just an unknown user", rcpt(conn, "<' OR 1=1 --@example.test>") == SMFIR_REPLYCODE)
  check("overlong address refused cleanly", rcpt(conn, "<" .. string.rep("a", 600) .. "@example.test>") == SMFIR_REPLYCODE)
  -- an ordinary message is accepted at DATA: the MTA need not send its content
  assert(mt.data(conn) == nil)
  check("ordinary message accepted at DATA", mt.getreply(conn) == SMFIR_ACCEPT)
  -- one connection carries many messages
  assert(mt.mailfrom(conn, "<>") == nil)
  check("second message: known user", rcpt(conn, "<alice@example.test>") == SMFIR_CONTINUE)
  check("second message: unknown user", rcpt(conn, "<nosuch3@example.test>") == SMFIR_REPLYCODE)
  mt.disconnect(conn)

  -- a bounce from a trusted client has its returned original stripped
  local b = session("localhost", "127.0.0.1")
  assert(mt.mailfrom(b, "<>") == nil)
  check("bounce recipient continues", rcpt(b, "<someone@other.test>") == SMFIR_CONTINUE)
  assert(mt.data(b) == nil)
  check("bounce content wanted at DATA", mt.getreply(b) == SMFIR_CONTINUE)
  assert(mt.header(b, "From", "MAILER-DAEMON@other.test") == nil)
  assert(mt.header(b, "Subject", "Undelivered Mail Returned to Sender") == nil)
  assert(mt.header(b, "MIME-Version", "1.0") == nil)
  assert(mt.header(b, "Content-Type", "multipart/report; report-type=delivery-status; boundary=\"BB\"") == nil)
  assert(mt.eoh(b) == nil)
  assert(mt.bodystring(b, "--BB\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n" ..
    "--BB\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; other.test\r\n\r\n" ..
    "Final-Recipient: rfc822; x@other.test\r\nAction: failed\r\nStatus: 5.1.1\r\n" ..
    "--BB\r\nContent-Type: message/rfc822\r\n\r\nFrom: spammer@other.test\r\nSubject: spam\r\n\r\n" ..
    "SPAM BODY LINE\r\n--BB--\r\n") == nil)
  assert(mt.eom(b) == nil)
  check("bounce eom continues", mt.getreply(b) == SMFIR_CONTINUE)
  check("bounce body replaced", mt.eom_check(b, MT_BODYCHANGE))
  check("bounce trace header added", mt.eom_check(b, MT_HDRADD, "X-Rcptguard-Bounce-Stripped"))
  mt.disconnect(b)

  -- a second connection works after the first one closed
  local conn2 = session("other.client.test", "192.0.2.11")
  assert(mt.mailfrom(conn2, "<s@client.test>") == nil)
  check("new connection: unknown user", rcpt(conn2, "<nosuch@example.test>") == SMFIR_REPLYCODE)
  mt.disconnect(conn2)
end)
if not ok then
  failed = failed + 1
  print("ERROR: " .. tostring(err))
end
print(string.format("miltertest: %d passed, %d failed", passed, failed))
if failed > 0 then error("miltertest failures") end
