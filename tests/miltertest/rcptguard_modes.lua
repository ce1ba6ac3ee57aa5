-- miltertest script for rcptguard's two "do not reject" answers, without an
-- MTA. MILTER_MODE says which rcptguard is listening on MILTER_SOCKET (see
-- tests/integration/test_miltertest.py):
--   outage   a backend that cannot answer: unknown users get a custom reply
--            (451 4.3.0, checked in the log), never a 550
--   monitor  mode = monitor: unknown users are let through (only logged)
-- Prints "miltertest: N passed, N failed".

local socket = os.getenv("MILTER_SOCKET")
local mode = os.getenv("MILTER_MODE")
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

local function rcpt(conn, addr)
  assert(mt.rcptto(conn, addr) == nil, "rcptto failed")
  return mt.getreply(conn)
end

local ok, err = pcall(function()
  local conn = mt.connect(socket, 10, 0.5)
  assert(conn, "cannot connect to " .. socket)
  assert(mt.conninfo(conn, "client.test", "192.0.2.10") == nil)
  assert(mt.mailfrom(conn, "<sender@client.test>") == nil)
  check(mode .. ": known user continues", rcpt(conn, "<alice@example.test>") == SMFIR_CONTINUE)
  if mode == "outage" then
    check("outage: unknown user gets a custom reply", rcpt(conn, "<nosuch@example.test>") == SMFIR_REPLYCODE)
    check("outage: other domain continues", rcpt(conn, "<x@other.test>") == SMFIR_CONTINUE)
  elseif mode == "monitor" then
    check("monitor: unknown user continues", rcpt(conn, "<nosuch@example.test>") == SMFIR_CONTINUE)
    check("monitor: broken syntax continues", rcpt(conn, "<a b@example.test>") == SMFIR_CONTINUE)
  else
    error("MILTER_MODE must be outage or monitor")
  end
  mt.disconnect(conn)
end)
if not ok then
  failed = failed + 1
  print("ERROR: " .. tostring(err))
end
print(string.format("miltertest: %d passed, %d failed", passed, failed))
if failed > 0 then error("miltertest failures") end
