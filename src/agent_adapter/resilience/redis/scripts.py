"""The Lua scripts behind ``RedisStore``: one atomic script per store operation.

Every script reads the server's clock (``TIME``) instead of a time sent by
the caller, so processes on machines whose clocks disagree share one
timeline: a bucket refills, a pause ends and a failure leaves its window at
the same moment for all of them. Numbers go in and out as strings (``"inf"``
for an unlimited bucket; Redis would truncate a Lua number to an integer).
Scripts that change what other processes mirror (values, counters, failure
windows) publish the new state on the store's channel, as JSON.

Keys (after the store's prefix): ``b:<key>`` a bucket (hash ``l`` level,
``t`` as of, ``p`` paused until; it expires once it would be full again),
``w:<key>`` a failure window (sorted set of event times), ``values`` every
value (hash), ``expires`` when values made by ``add`` are forgotten (sorted
set: name -> time), ``c:<key>`` a counter (hash: holder id -> slots held),
``holders`` the live holders (sorted set: id -> lease end).
"""

from __future__ import annotations

import math

__all__ = [
    "ACQUIRE",
    "ADD",
    "BEAT",
    "EVENTS",
    "GIVE",
    "LOWER",
    "RELEASE",
    "SET",
    "SLOTS",
    "TAKE",
    "num",
]


def num(x: float) -> str:
    """A number as the scripts read it (``inf`` for an unlimited bucket)."""
    return "inf" if x == math.inf else repr(float(x))


_PRELUDE = """
if redis.replicate_commands then redis.replicate_commands() end
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function num(s)
  if s == 'inf' then return math.huge end
  return tonumber(s)
end
local function str(x) return string.format('%.17g', x) end
"""

_BUCKET = """
local function load(key, rate, cap, now)
  local b = redis.call('HMGET', key, 'l', 't', 'p')
  local level, at, pause = num(b[1]), tonumber(b[2]), tonumber(b[3]) or 0
  if level == nil then return cap, 0 end
  if now > at then
    if rate == math.huge then level = cap else level = math.min(cap, level + (now - at) * rate) end
  end
  return level, pause
end
local function save(key, level, pause, rate, cap, now)
  if rate == math.huge and pause <= now then return end  -- nothing an unlimited bucket must keep
  redis.call('HSET', key, 'l', str(level), 't', str(now), 'p', str(pause))
  local ttl = 60
  if rate ~= math.huge and rate > 0 then ttl = ttl + (cap - level) / rate end
  if pause > now then ttl = ttl + pause - now end
  redis.call('PEXPIRE', key, math.ceil(ttl * 1000))
end
"""

TAKE = (
    _PRELUDE
    + _BUCKET
    + """
-- KEYS[1] bucket; ARGV amount, rate, capacity, max_wait -> {wait, level, paused until, now}
local now = clock()
local amount, rate, cap, max_wait = tonumber(ARGV[1]), num(ARGV[2]), num(ARGV[3]), num(ARGV[4])
local level, pause = load(KEYS[1], rate, cap, now)
local wait = 0
if pause > now then wait = pause - now end
local short = amount - level
if short > 0 and rate ~= math.huge then
  if rate > 0 then wait = math.max(wait, short / rate) else wait = math.huge end
end
if wait <= max_wait and rate ~= math.huge then level = level - amount end
save(KEYS[1], level, pause, rate, cap, now)
return {str(wait), str(level), str(pause), str(now)}
"""
)

GIVE = (
    _PRELUDE
    + _BUCKET
    + """
-- KEYS[1] bucket; ARGV amount, rate, capacity -> {level, paused until, now}
local now = clock()
local amount, rate, cap = tonumber(ARGV[1]), num(ARGV[2]), num(ARGV[3])
local level, pause = load(KEYS[1], rate, cap, now)
if rate ~= math.huge then
  level = math.min(cap, level + amount)
  save(KEYS[1], level, pause, rate, cap, now)
end
return {str(level), str(pause), str(now)}
"""
)

LOWER = (
    _PRELUDE
    + _BUCKET
    + """
-- KEYS[1] bucket; ARGV level, rate, capacity, pause for (seconds from now, 0: none)
local now = clock()
local to, rate, cap, pause_for = tonumber(ARGV[1]), num(ARGV[2]), num(ARGV[3]), tonumber(ARGV[4])
local level, pause = load(KEYS[1], rate, cap, now)
if rate ~= math.huge and to < level then level = to end
if pause_for > 0 and now + pause_for > pause then pause = now + pause_for end
save(KEYS[1], level, pause, rate, cap, now)
return {str(level), str(pause), str(now)}
"""
)

EVENTS = (
    _PRELUDE
    + """
-- KEYS[1] window; ARGV channel, name, window, cleared ('1': forget what is there first),
-- then pairs of (member, time or 'now') -> the event times within the window
local now = clock()
local window = tonumber(ARGV[3])
if ARGV[4] == '1' then redis.call('DEL', KEYS[1]) end
if #ARGV > 4 then
  for i = 5, #ARGV, 2 do
    local t = ARGV[i + 1]
    if t == 'now' then t = now else t = tonumber(t) end
    redis.call('ZADD', KEYS[1], t, ARGV[i])
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
end
local flat = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local times = {}
for i = 2, #flat, 2 do times[#times + 1] = flat[i] end
redis.call('PUBLISH', ARGV[1], cjson.encode({k = 'w', key = ARGV[2], s = times}))
return times
"""
)

SET = (
    _PRELUDE
    + """
-- KEYS[1] values, KEYS[2] expiry times; ARGV channel, name, value ('': delete), then
-- optionally seconds until it is forgotten: a total (of ``add``) written back after Redis
-- came back empty, where the largest any process had wins (a sum is never lowered)
if ARGV[4] then
  local was = tonumber(redis.call('HGET', KEYS[1], ARGV[2]))
  if was ~= nil and was >= tonumber(ARGV[3]) then return 0 end
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  redis.call('ZADD', KEYS[2], clock() + tonumber(ARGV[4]), ARGV[2])
elseif ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[2])
  redis.call('ZREM', KEYS[2], ARGV[2])
else
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  redis.call('ZREM', KEYS[2], ARGV[2])
end
redis.call('PUBLISH', ARGV[1], cjson.encode({k = 'v', key = ARGV[2], v = ARGV[3]}))
return 1
"""
)

ADD = (
    _PRELUDE
    + """
-- KEYS[1] values, KEYS[2] expiry times; ARGV channel, name, amount, ttl -> the new value
-- Forget (a few of) the values whose time is up, then add to this one and renew its time.
local now = clock()
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 64)
for _, name in ipairs(gone) do
  redis.call('HDEL', KEYS[1], name)
  redis.call('ZREM', KEYS[2], name)
  redis.call('PUBLISH', ARGV[1], cjson.encode({k = 'v', key = name, v = ''}))
end
local total = redis.call('HINCRBYFLOAT', KEYS[1], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[2])
redis.call('PUBLISH', ARGV[1], cjson.encode({k = 'v', key = ARGV[2], v = total}))
return total
"""
)

_COUNTER = """
-- The slots held by live holders; a holder whose lease ended (a process that died
-- holding slots) loses them here.
local function live(counter, holders, me, now)
  local flat = redis.call('HGETALL', counter)
  local total = 0
  for i = 1, #flat, 2 do
    local holder, n = flat[i], tonumber(flat[i + 1])
    local lease = tonumber(redis.call('ZSCORE', holders, holder))
    if holder ~= me and (lease == nil or lease < now) then
      redis.call('HDEL', counter, holder)
    else
      total = total + n
    end
  end
  return total
end
"""

ACQUIRE = (
    _PRELUDE
    + _COUNTER
    + """
-- KEYS[1] counter, KEYS[2] holders; ARGV channel, name, me, limit, lease -> {1 or 0, total}
local now = clock()
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[3])
local total = live(KEYS[1], KEYS[2], ARGV[3], now)
if total >= tonumber(ARGV[4]) then return {0, total} end
redis.call('HINCRBY', KEYS[1], ARGV[3], 1)
total = total + 1
redis.call('PUBLISH', ARGV[1], cjson.encode({k = 'c', key = ARGV[2], n = total}))
return {1, total}
"""
)

RELEASE = (
    _PRELUDE
    + _COUNTER
    + """
-- KEYS[1] counter, KEYS[2] holders; ARGV channel, name, me -> total
local now = clock()
if redis.call('HINCRBY', KEYS[1], ARGV[3], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[3]) end
local total = live(KEYS[1], KEYS[2], ARGV[3], now)
redis.call('PUBLISH', ARGV[1], cjson.encode({k = 'c', key = ARGV[2], n = total, r = 1}))
return total
"""
)

SLOTS = (
    _PRELUDE
    + _COUNTER
    + """
-- KEYS[1] counter, KEYS[2] holders; ARGV channel, name, me, slots, lease -> total
-- What this holder holds, said again after an outage (absolute, so saying it twice is safe).
local now = clock()
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[3])
if tonumber(ARGV[4]) > 0 then
  redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
else
  redis.call('HDEL', KEYS[1], ARGV[3])
end
local total = live(KEYS[1], KEYS[2], ARGV[3], now)
redis.call('PUBLISH', ARGV[1], cjson.encode({k = 'c', key = ARGV[2], n = total, r = 1}))
return total
"""
)

BEAT = (
    _PRELUDE
    + """
-- KEYS[1] holders, KEYS[2] epoch; ARGV me, lease, epoch -> {now, whether the epoch was there}
-- Renew this holder's lease, forget dead holders, and tell whether Redis kept its data
-- (the epoch key is set once and never expires: gone means Redis restarted empty).
local now = clock()
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local kept = redis.call('SET', KEYS[2], ARGV[3], 'NX') == false
return {str(now), kept and 1 or 0}
"""
)
