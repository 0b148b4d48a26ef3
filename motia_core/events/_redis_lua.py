"""The Redis queue's Lua function library (events/redis.py): each operation atomic.

Keys, for a store prefix ``P`` and a queue ``Q`` (the prefix is fixed per store and each kind
ends in ``:``, so no two (kind, queue) pairs share a key):

- ``P ready:Q``    list: ids visible now, oldest first (receive pops from the head);
- ``P leases:Q``   sorted set: a lease -> when it runs out (ms); a lease is the receipt handed
  out with the message, ``<id>|<token>|<1 if FIFO else 0>|<consumer>``: removing it is what
  proves a late ack, nack or release still holds the current lease, and it says who holds what;
- ``P delayed:Q``  sorted set: id -> when it becomes visible (delays, retries);
- ``P waiting:Q``  sorted set: id -> when it is due, for messages queued behind their FIFO
  group's head (counted as ready or delayed, as the memory adapter counts them);
- ``P fifo:<len(Q)>:Q:<group>``  list: the group's unfinished ids in order; only the first is
  ever in the ready list, the delayed set or the leases, which is what makes FIFO hold across
  every instance (one in flight per group cluster-wide);
- ``P m:<id>``     hash: event (JSON), attempt, enqueued_at, group (FIFO only);
- ``P dead:Q`` (sorted set: id -> sequence), ``P d:<id>`` (hash: the dead letter),
  ``P dead-seq`` (the sequence), ``P dead-queues`` (set of queues holding dead letters).

A message is in exactly one of: the ready list, the leases, the delayed set, the waiting set.
Times are the server's (``TIME``), so instances whose clocks differ still agree on leases and
delays; they go to commands as integer strings (``%d``), as a Lua number would be formatted
with ``%.14g``, several times dearer. Every operation takes ``ARGV[1] = P`` and
``ARGV[2] = Q`` first, and makes as few ``redis.call`` as its work needs (each one costs the
server a conversion of its arguments and reply).
"""

from __future__ import annotations

import hashlib

__all__ = ("ACK", "COUNTS", "DEAD_LETTER", "ENQUEUE", "ENQUEUE_ONCE", "FUNCTION", "LETTERS",
           "LIBRARY", "LIBRARY_NAME", "NACK", "PEEK", "PURGE", "RECEIVE", "RELEASE", "REPLAY")

# What every operation shares, defined once per library load. Set by each call of the library:
# P; NOW, the call's time (one TIME however many operations it runs); LOOKED, what RECEIVE
# already did per queue at that time. Set by each operation: Q.
_PRELUDE = """
local P, Q, NOW, LOOKED
local function K(kind) return P .. kind .. ':' .. Q end
local function msg(id) return P .. 'm:' .. id end
local function fifo(group) return P .. 'fifo:' .. #Q .. ':' .. Q .. ':' .. group end
local function now_ms()
  if not NOW then
    local t = redis.call('TIME')
    NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return NOW
end
local function int(n) return string.format('%d', n) end
-- visible at `at`: now at the ready list's tail, or later through the delayed set
local function schedule(id, at, now)
  if at > now then
    redis.call('ZADD', K('delayed'), int(at), id)
  else
    redis.call('RPUSH', K('ready'), id)
  end
end
local function add(id, event, grouped, group, at, now)
  if not grouped then
    redis.call('HSET', msg(id), 'event', event, 'attempt', '1', 'enqueued_at', int(now))
    return schedule(id, at, now)
  end
  redis.call('HSET', msg(id), 'event', event, 'attempt', '1', 'enqueued_at', int(now),
             'group', group)
  if redis.call('RPUSH', fifo(group), id) == 1 then
    schedule(id, at, now)
  else
    redis.call('ZADD', K('waiting'), int(at), id)
  end
end
-- the group's head is finished: the next message of the group becomes its head
local function advance(group, id, now)
  local list = fifo(group)
  redis.call('LREM', list, 1, id)
  local nxt = redis.call('LINDEX', list, 0)
  if nxt then
    local at = tonumber(redis.call('ZSCORE', K('waiting'), nxt))
    redis.call('ZREM', K('waiting'), nxt)
    schedule(nxt, at, now)
  end
end
-- true if `receipt` was the current lease of message `id` in this queue (it is ended now)
local function unlease(id, receipt)
  return string.sub(receipt, 1, #id + 1) == id .. '|'
    and redis.call('ZREM', K('leases'), receipt) == 1
end
-- what wait() needs: {1 if something is receivable now else 0, ms until the next delay or lease
-- runs out (-1: none)}
local function peek(now)
  local due
  for _, kind in ipairs({'leases', 'delayed'}) do
    local first = redis.call('ZRANGE', K(kind), 0, 0, 'WITHSCORES')[2]
    if first and (not due or tonumber(first) - now < due) then due = tonumber(first) - now end
  end
  if (due and due <= 0) or redis.call('LLEN', K('ready')) > 0 then return {1, 0} end
  return {0, due or -1}
end
"""


_BODIES: dict[str, str] = {}


def _function(name: str, body: str) -> str:
    """Register one operation's body (ARGV its arguments); returns the operation's name."""
    _BODIES[name] = body
    return name


# ARGV[3..]: groups of eight (queue, id, grouped "1"/"0", group, delay ms, event JSON, lease ms,
# receipt); ARGV[2] is unused (each item names its queue). A message with a lease (not ''; never
# a FIFO group's, nor a delayed one) is added already leased under that receipt, for a consumer
# of the caller's process (``enqueue_leased``). Returns the enqueue time.
ENQUEUE = _function("enqueue", """
local now = now_ms()
for i = 3, #ARGV, 8 do
  Q = ARGV[i]
  if ARGV[i + 6] == '' then
    add(ARGV[i + 1], ARGV[i + 5], ARGV[i + 2] == '1', ARGV[i + 3], now + tonumber(ARGV[i + 4]),
        now)
  else
    redis.call('HSET', msg(ARGV[i + 1]), 'event', ARGV[i + 5], 'attempt', '1', 'enqueued_at',
               int(now))
    redis.call('ZADD', K('leases'), int(now + tonumber(ARGV[i + 6])), ARGV[i + 7])
  end
end
return now
""")

# ARGV[3] once key, ARGV[4] its time to live in ms, then one message as for ENQUEUE: the key
# taken and the message added in one step, or neither (the key was taken already: returns false).
ENQUEUE_ONCE = _function("enqueue_once", """
if not redis.call('SET', P .. 'once:' .. ARGV[3], '1', 'NX', 'PX', tonumber(ARGV[4])) then
  return false
end
local now = now_ms()
Q = ARGV[5]
add(ARGV[6], ARGV[10], ARGV[7] == '1', ARGV[8], now + tonumber(ARGV[9]), now)
return now
""")

# ARGV[3] visibility ms, ARGV[4] consumer name, ARGV[5] a new token, ARGV[6] how many messages
# are wanted. Due delayed messages join the ready list first. Each message: an expired lease
# first (taken over from whichever consumer held it), else the ready list's head; the n-th
# (1-based) gets the receipt ``<id>|<token><n>|<1 if FIFO else 0>|<consumer>``, which the client
# rebuilds rather than reads. Returns one JSON text, which the client parses in one pass:
# [lease_until, visible, due, [[id, attempt, enqueued_at, group or null, event], ...]], the
# stored event JSON spliced in as it is; visible and due are PEEK's answer when fewer than
# wanted were found (else 1, 0), so the wait that follows an empty receive needs no call.
RECEIVE = _function("receive", """
local now = now_ms()
local ready, leases = K('ready'), K('leases')
-- 1: the due delays moved; 2: and no lease had run out (both hold until NOW changes)
local looked = LOOKED[Q]
if not looked then
  LOOKED[Q] = 1
  local due = redis.call('ZRANGEBYSCORE', K('delayed'), '-inf', int(now), 'LIMIT', 0, 100)
  if #due > 0 then
    redis.call('ZREM', K('delayed'), unpack(due))
    redis.call('RPUSH', ready, unpack(due))
  end
end
local lease_until = now + tonumber(ARGV[3])
local score = int(lease_until)
local wanted = tonumber(ARGV[6])
local out, expired = {}, looked ~= 2
for i = 1, wanted do
  local id
  if expired then
    local lease = redis.call('ZRANGEBYSCORE', leases, '-inf', int(now), 'LIMIT', 0, 1)[1]
    if lease then
      redis.call('ZREM', leases, lease)
      id = string.sub(lease, 1, string.find(lease, '|', 1, true) - 1)
      redis.call('HINCRBY', msg(id), 'attempt', 1)
    else
      expired, LOOKED[Q] = false, 2
    end
  end
  if not id then
    id = redis.call('LPOP', ready)
    if not id then break end
  end
  local f = redis.call('HMGET', msg(id), 'event', 'attempt', 'group', 'enqueued_at')
  redis.call('ZADD', leases, score,
             id .. '|' .. ARGV[5] .. i .. (f[3] and '|1|' or '|0|') .. ARGV[4])
  out[i] = '["' .. id .. '",' .. f[2] .. ',' .. f[4] .. ','
    .. (f[3] and cjson.encode(f[3]) or 'null') .. ',' .. f[1] .. ']'
end
local p = #out < wanted and peek(now) or {1, 0}
return '[' .. int(lease_until) .. ',' .. p[1] .. ',' .. int(p[2]) .. ',['
  .. table.concat(out, ',') .. ']]'
""")

# ARGV[3] id, ARGV[4] receipt. 1 if done, 0 if the lease is not current.
ACK = _function("ack", """
if not unlease(ARGV[3], ARGV[4]) then return 0 end
local group = string.find(ARGV[4], '|1|', #ARGV[3] + 2, true)
  and redis.call('HGET', msg(ARGV[3]), 'group')
redis.call('DEL', msg(ARGV[3]))
if group then advance(group, ARGV[3], now_ms()) end
return 1
""")

# ARGV[3] id, ARGV[4] receipt, ARGV[5] delay ms. A nacked FIFO head stays its group's head.
NACK = _function("nack", """
if not unlease(ARGV[3], ARGV[4]) then return 0 end
local now = now_ms()
redis.call('HINCRBY', msg(ARGV[3]), 'attempt', 1)
schedule(ARGV[3], now + tonumber(ARGV[5]), now)
return 1
""")

# ARGV[3] id, ARGV[4] receipt. Visible again now; the attempt is not counted.
RELEASE = _function("release", """
if not unlease(ARGV[3], ARGV[4]) then return 0 end
redis.call('RPUSH', K('ready'), ARGV[3])
return 1
""")

# ARGV[3] id, ARGV[4] receipt, ARGV[5] error JSON. Returns {event, group, attempts, failed_at}.
DEAD_LETTER = _function("dead_letter", """
local id = ARGV[3]
if not unlease(id, ARGV[4]) then return false end
local now = now_ms()
local f = redis.call('HMGET', msg(id), 'event', 'group', 'attempt')
redis.call('DEL', msg(id))
redis.call('ZADD', K('dead'), redis.call('INCR', P .. 'dead-seq'), id)
local letter = P .. 'd:' .. id
if f[2] then
  redis.call('HSET', letter, 'event', f[1], 'attempts', f[3], 'error', ARGV[5],
             'failed_at', int(now), 'group', f[2])
  advance(f[2], id, now)
else
  redis.call('HSET', letter, 'event', f[1], 'attempts', f[3], 'error', ARGV[5],
             'failed_at', int(now))
end
redis.call('SADD', P .. 'dead-queues', Q)
return {f[1], f[2], tonumber(f[3]), now}
""")

# Returns {id, event, group, attempts, error, failed_at} per dead letter, oldest first.
LETTERS = _function("letters", """
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
REPLAY = _function("replay", """
if redis.call('ZREM', K('dead'), ARGV[3]) == 0 then return 0 end
local f = redis.call('HMGET', P .. 'd:' .. ARGV[3], 'event', 'group')
""" + _forget_letter("ARGV[3]") + """
local now = now_ms()
add(ARGV[4], f[1], f[2] ~= false, f[2] or '', now, now)
return 1
""")

# Returns how many dead letters were deleted.
PURGE = _function("purge", """
local ids = redis.call('ZRANGE', K('dead'), 0, -1)
for _, id in ipairs(ids) do redis.call('DEL', P .. 'd:' .. id) end
redis.call('DEL', K('dead'))
redis.call('SREM', P .. 'dead-queues', Q)
return #ids
""")

# Returns {ready, delayed, in_flight, dead}. An expired lease counts as ready (it will be
# handed out again).
COUNTS = _function("counts", """
local now = now_ms()
local leases = redis.call('ZCARD', K('leases'))
local expired = redis.call('ZCOUNT', K('leases'), '-inf', int(now))
local ready = redis.call('LLEN', K('ready')) + expired
  + redis.call('ZCOUNT', K('delayed'), '-inf', int(now))
  + redis.call('ZCOUNT', K('waiting'), '-inf', int(now))
local delayed = redis.call('ZCOUNT', K('delayed'), '(' .. int(now), '+inf')
  + redis.call('ZCOUNT', K('waiting'), '(' .. int(now), '+inf')
return {ready, delayed, leases - expired, redis.call('ZCARD', K('dead'))}
""")

# For wait(): {1 if something is receivable now else 0, ms until the next delay or lease runs
# out (-1: none)}.
PEEK = _function("peek", """
return peek(now_ms())
""")


# One call of the library runs the operations of one batch in order (events/redis.py sends the
# calls of one turn of the loop together): ARGV = P, then per operation its name, the count of
# its arguments, the queue and the rest. Returns each operation's answer, or its error (one
# failing does not stop the others).
_RUN = """
local function run(ARGV)
  P, NOW, LOOKED = ARGV[1], nil, {}
  local out, i = {}, 2
  while i <= #ARGV do
    local op, n = OPS[ARGV[i]], tonumber(ARGV[i + 1])
    local args = {P}
    for k = 1, n do args[k + 1] = ARGV[i + 1 + k] end
    Q = args[2]
    local ok, answer = pcall(op, args)
    if not ok and type(answer) ~= 'table' then answer = redis.error_reply(tostring(answer)) end
    out[#out + 1] = answer
    i = i + 2 + n
  end
  return out
end
"""

_DIGEST = hashlib.sha1("\n".join([_PRELUDE, _RUN, *(f"{name}\n{body}"
                                                  for name, body in _BODIES.items())])
                       .encode()).hexdigest()[:12]
# The library's and its function's name carry a digest of the code, so instances of different
# versions on one server each find their own (a function name is unique server-wide).
LIBRARY_NAME = FUNCTION = f"motia_queue_{_DIGEST}"
# The source for FUNCTION LOAD.
LIBRARY = "\n".join([f"#!lua name={LIBRARY_NAME}", _PRELUDE, "local OPS = {}", *(
    f"OPS['{name}'] = function(ARGV)\n{body}\nend" for name, body in _BODIES.items()), _RUN,
    f"redis.register_function('{FUNCTION}', function(_, ARGV) return run(ARGV) end)"])
