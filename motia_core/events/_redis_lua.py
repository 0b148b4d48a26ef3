"""The Lua scripts of the Redis queue (events/redis.py): each operation is one atomic script.

Keys, for a store prefix ``P`` and a queue ``Q`` (the prefix is fixed per store and each kind
ends in ``:``, so no two (kind, queue) pairs share a key):

- ``P stream:Q``   the stream of visible messages (one entry ``id -> <message id>`` each), read
  by the consumer group ``motia``; its pending list holds what is leased;
- ``P leases:Q``   sorted set: leased message id -> when the lease runs out (ms);
- ``P delayed:Q``  sorted set: id -> when it becomes visible (delays, retries);
- ``P waiting:Q``  sorted set: id -> when it is due, for messages queued behind their FIFO
  group's head (counted as ready or delayed, as the memory adapter counts them);
- ``P fifo:<len(Q)>:Q:<group>``  list: the group's unfinished ids in order; only the first is
  ever in the stream, the delayed set or the leases, which is what makes FIFO hold across
  every instance (one in flight per group cluster-wide);
- ``P m:<id>``     hash: queue, event (JSON), attempt, group, enqueued_at, available_at,
  receipt (the current lease's token, "" when not leased), entry (its stream entry id);
- ``P dead:Q`` (sorted set: id -> sequence), ``P d:<id>`` (hash: the dead letter),
  ``P dead-seq`` (the sequence), ``P dead-queues`` (set of queues holding dead letters).

Times are the server's (``TIME``), so instances whose clocks differ still agree on leases and
delays. Every script takes ``ARGV[1] = P`` and ``ARGV[2] = Q`` first.
"""

from __future__ import annotations

__all__ = ("ACK", "CONSUMER_GROUP", "COUNTS", "DEAD_LETTER", "ENQUEUE", "ENQUEUE_ONCE", "LEAVE",
           "LETTERS", "NACK", "PEEK", "PURGE", "RECEIVE", "RELEASE", "REPLAY")

CONSUMER_GROUP = "motia"

_PRELUDE = """
local P, Q = ARGV[1], ARGV[2]
local GROUP = '@GROUP@'
local function K(kind) return P .. kind .. ':' .. Q end
local function msg(id) return P .. 'm:' .. id end
local function fifo(group) return P .. 'fifo:' .. #Q .. ':' .. Q .. ':' .. group end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function make_visible(id)
  if redis.call('EXISTS', K('stream')) == 0 then
    redis.call('XGROUP', 'CREATE', K('stream'), GROUP, '0', 'MKSTREAM')
  end
  redis.call('HSET', msg(id), 'entry', redis.call('XADD', K('stream'), '*', 'id', id))
end
-- visible at `at`: now into the stream, or later through the delayed set
local function schedule(id, at, now)
  redis.call('HSET', msg(id), 'available_at', at)
  if at > now then redis.call('ZADD', K('delayed'), at, id) else make_visible(id) end
end
local function add(id, event, grouped, group, at, now)
  local m = msg(id)
  redis.call('HSET', m, 'queue', Q, 'event', event, 'attempt', 1, 'enqueued_at', now,
             'available_at', at, 'receipt', '')
  if not grouped then return schedule(id, at, now) end
  redis.call('HSET', m, 'group', group)
  if redis.call('RPUSH', fifo(group), id) == 1 then
    schedule(id, at, now)
  else
    redis.call('ZADD', K('waiting'), at, id)
  end
end
-- a delivered message leaves the stream (acked, deleted) and the leases
local function unlist(id)
  local entry = redis.call('HGET', msg(id), 'entry')
  if entry then
    redis.call('XACK', K('stream'), GROUP, entry)
    redis.call('XDEL', K('stream'), entry)
    redis.call('HDEL', msg(id), 'entry')
  end
  redis.call('ZREM', K('leases'), id)
end
-- the group's head is finished: the next message of the group becomes its head
local function advance(group, id, now)
  local list = fifo(group)
  redis.call('LREM', list, 1, id)
  local nxt = redis.call('LINDEX', list, 0)
  if nxt then
    redis.call('ZREM', K('waiting'), nxt)
    schedule(nxt, tonumber(redis.call('HGET', msg(nxt), 'available_at')), now)
  end
end
-- true if `receipt` is the current lease of message `id` of this queue
local function leased(id, receipt)
  if receipt == '' then return false end
  local f = redis.call('HMGET', msg(id), 'receipt', 'queue')
  return f[1] == receipt and f[2] == Q
end
-- what wait() needs: {1 if something is receivable now, ms until the next delay or lease runs
-- out (-1: none), the stream's last entry id (new entries come after it)}
local function peek(now)
  local leases = redis.call('ZCARD', K('leases'))
  local visible = redis.call('XLEN', K('stream')) > leases
    or redis.call('ZCOUNT', K('leases'), '-inf', now) > 0
    or redis.call('ZCOUNT', K('delayed'), '-inf', now) > 0
  local due = -1
  for _, kind in ipairs({'leases', 'delayed'}) do
    local first = redis.call('ZRANGE', K(kind), 0, 0, 'WITHSCORES')[2]
    if first and (due < 0 or tonumber(first) - now < due) then due = tonumber(first) - now end
  end
  local last = '0-0'
  if redis.call('EXISTS', K('stream')) == 1 then
    local info = redis.call('XINFO', 'STREAM', K('stream'))
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' then last = info[i + 1] end
    end
  end
  return {visible and 1 or 0, due, last}
end
local function promote(now)
  local due = redis.call('ZRANGEBYSCORE', K('delayed'), '-inf', now, 'LIMIT', 0, 100)
  for _, id in ipairs(due) do
    redis.call('ZREM', K('delayed'), id)
    make_visible(id)
  end
end
""".replace("@GROUP@", CONSUMER_GROUP)


def _script(body: str) -> str:
    return _PRELUDE + body


# ARGV[3..]: groups of six (queue, id, grouped "1"/"0", group, delay ms, event JSON); ARGV[2]
# is unused (each item names its queue). Returns the enqueue time.
ENQUEUE = _script("""
local now = now_ms()
for i = 3, #ARGV, 6 do
  Q = ARGV[i]
  add(ARGV[i + 1], ARGV[i + 5], ARGV[i + 2] == '1', ARGV[i + 3], now + tonumber(ARGV[i + 4]), now)
end
return now
""")

# ARGV[3] once key, ARGV[4] its time to live in ms, then one message as for ENQUEUE: the key
# taken and the message added in one step, or neither (the key was taken already: returns false).
ENQUEUE_ONCE = _script("""
if not redis.call('SET', P .. 'once:' .. ARGV[3], '1', 'NX', 'PX', tonumber(ARGV[4])) then
  return false
end
local now = now_ms()
Q = ARGV[5]
add(ARGV[6], ARGV[10], ARGV[7] == '1', ARGV[8], now + tonumber(ARGV[9]), now)
return now
""")

# ARGV[3] visibility ms, ARGV[4] consumer name, ARGV[5..] one new receipt per message wanted.
# Each: an expired lease first (claimed from whichever consumer held it), else the next new
# entry of the stream. Returns {{id, event, attempt, group, enqueued_at, lease_until}, ...};
# nothing: PEEK's answer, so the wait that follows an empty receive needs no call of its own.
RECEIVE = _script("""
local now = now_ms()
promote(now)
local function take(receipt)
  local id, attempt
  local expired = redis.call('ZRANGEBYSCORE', K('leases'), '-inf', now, 'LIMIT', 0, 1)[1]
  if expired then
    id = expired
    local entry = redis.call('HGET', msg(id), 'entry')
    redis.call('XCLAIM', K('stream'), GROUP, ARGV[4], 0, entry, 'JUSTID')
    attempt = redis.call('HINCRBY', msg(id), 'attempt', 1)
  else
    if redis.call('EXISTS', K('stream')) == 0 then return nil end
    local got = redis.call('XREADGROUP', 'GROUP', GROUP, ARGV[4], 'COUNT', 1,
                           'STREAMS', K('stream'), '>')
    if not got then return nil end
    id = got[1][2][1][2][2]
    attempt = tonumber(redis.call('HGET', msg(id), 'attempt'))
  end
  local lease_until = now + tonumber(ARGV[3])
  redis.call('HSET', msg(id), 'receipt', receipt, 'available_at', lease_until)
  redis.call('ZADD', K('leases'), lease_until, id)
  local f = redis.call('HMGET', msg(id), 'event', 'group', 'enqueued_at')
  return {id, f[1], attempt, f[2], f[3], lease_until}
end
local out = {}
for i = 5, #ARGV do
  local one = take(ARGV[i])
  if not one then break end
  table.insert(out, one)
end
if #out == 0 then return peek(now) end
return out
""")

# ARGV[3] id, ARGV[4] receipt. 1 if done, 0 if the lease is not current.
ACK = _script("""
if not leased(ARGV[3], ARGV[4]) then return 0 end
local group = redis.call('HGET', msg(ARGV[3]), 'group')
unlist(ARGV[3])
redis.call('DEL', msg(ARGV[3]))
if group then advance(group, ARGV[3], now_ms()) end
return 1
""")

# ARGV[3] id, ARGV[4] receipt, ARGV[5] delay ms. A nacked FIFO head stays its group's head.
NACK = _script("""
if not leased(ARGV[3], ARGV[4]) then return 0 end
local now = now_ms()
unlist(ARGV[3])
redis.call('HINCRBY', msg(ARGV[3]), 'attempt', 1)
redis.call('HSET', msg(ARGV[3]), 'receipt', '')
schedule(ARGV[3], now + tonumber(ARGV[5]), now)
return 1
""")

# ARGV[3] id, ARGV[4] receipt. Visible again now; the attempt is not counted.
RELEASE = _script("""
if not leased(ARGV[3], ARGV[4]) then return 0 end
local now = now_ms()
unlist(ARGV[3])
redis.call('HSET', msg(ARGV[3]), 'receipt', '')
schedule(ARGV[3], now, now)
return 1
""")

# ARGV[3] id, ARGV[4] receipt, ARGV[5] error JSON. Returns {event, group, attempts, failed_at}.
DEAD_LETTER = _script("""
local id = ARGV[3]
if not leased(id, ARGV[4]) then return false end
local now = now_ms()
local f = redis.call('HMGET', msg(id), 'event', 'group', 'attempt')
unlist(id)
redis.call('DEL', msg(id))
redis.call('ZADD', K('dead'), redis.call('INCR', P .. 'dead-seq'), id)
local letter = P .. 'd:' .. id
redis.call('HSET', letter, 'event', f[1], 'attempts', f[3], 'error', ARGV[5], 'failed_at', now)
if f[2] then
  redis.call('HSET', letter, 'group', f[2])
  advance(f[2], id, now)
end
redis.call('SADD', P .. 'dead-queues', Q)
return {f[1], f[2], tonumber(f[3]), now}
""")

# Returns {id, event, group, attempts, error, failed_at} per dead letter, oldest first.
LETTERS = _script("""
local out = {}
for _, id in ipairs(redis.call('ZRANGE', K('dead'), 0, -1)) do
  local f = redis.call('HMGET', P .. 'd:' .. id, 'event', 'group', 'attempts', 'error',
                       'failed_at')
  table.insert(out, {id, f[1], f[2], tonumber(f[3]), f[4], tonumber(f[5])})
end
return out
""")


def _forget_letter(var: str) -> str:
    return f"""
redis.call('DEL', P .. 'd:' .. {var})
if redis.call('ZCARD', K('dead')) == 0 then redis.call('SREM', P .. 'dead-queues', Q) end
"""


# ARGV[3] dead letter id, ARGV[4] the new message id. 1 if replayed, 0 if no such letter.
REPLAY = _script("""
if redis.call('ZREM', K('dead'), ARGV[3]) == 0 then return 0 end
local f = redis.call('HMGET', P .. 'd:' .. ARGV[3], 'event', 'group')
""" + _forget_letter("ARGV[3]") + """
local now = now_ms()
add(ARGV[4], f[1], f[2] ~= false, f[2] or '', now, now)
return 1
""")

# Returns how many dead letters were deleted.
PURGE = _script("""
local ids = redis.call('ZRANGE', K('dead'), 0, -1)
for _, id in ipairs(ids) do redis.call('DEL', P .. 'd:' .. id) end
redis.call('DEL', K('dead'))
redis.call('SREM', P .. 'dead-queues', Q)
return #ids
""")

# Returns {ready, delayed, in_flight, dead}. An expired lease counts as ready (it will be
# handed out again); every pending stream entry has a lease, so new entries = XLEN - leases.
COUNTS = _script("""
local now = now_ms()
local leases = redis.call('ZCARD', K('leases'))
local expired = redis.call('ZCOUNT', K('leases'), '-inf', now)
local ready = redis.call('XLEN', K('stream')) - leases + expired
  + redis.call('ZCOUNT', K('delayed'), '-inf', now)
  + redis.call('ZCOUNT', K('waiting'), '-inf', now)
local delayed = redis.call('ZCOUNT', K('delayed'), '(' .. now, '+inf')
  + redis.call('ZCOUNT', K('waiting'), '(' .. now, '+inf')
return {ready, delayed, leases - expired, redis.call('ZCARD', K('dead'))}
""")

# For wait(): {1 if something is receivable now, ms until the next delay or lease runs out
# (-1: none), the stream's last entry id (new entries come after it)}.
PEEK = _script("""
return peek(now_ms())
""")

# ARGV[3] consumer name. Removes it from the group if it holds no entry; 1 if removed.
LEAVE = _script("""
if redis.call('EXISTS', K('stream')) == 0 then return 0 end
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', K('stream'), GROUP)) do
  local name, pending
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1] elseif c[i] == 'pending' then pending = c[i + 1] end
  end
  if name == ARGV[3] then
    if pending ~= 0 then return 0 end
    redis.call('XGROUP', 'DELCONSUMER', K('stream'), GROUP, ARGV[3])
    return 1
  end
end
return 0
""")
