package redisstate

import "github.com/redis/go-redis/v9"

// The Lua scripts: each admission is one of them, atomic on the server
// and one round trip. Times of the rpm and tpm windows are the caller's
// clock in microseconds (the Limiter's now); lease expiries are the
// server's clock (TIME) in milliseconds, so that a replica's clock does
// not decide when another replica's slots come back. Floats leave a
// script as strings (Redis truncates Lua numbers to integers).

// acquire admits one request under rpm and max_concurrent.
// KEYS: rpm log (zset member->time), in-flight leases (zset member->expiry).
// ARGV: now (µs), rpm, max_concurrent, member, lease (ms).
// Returns {allowed, refused, remaining, reset (µs)}.
var acquire = redis.NewScript(`
local now, rpm, mc = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local member, lease = ARGV[4], tonumber(ARGV[5])
local minute = 60000000
local count = 0
local function oldest()
  local e = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #e == 0 then return 0 end
  return tonumber(e[2]) + minute - now
end
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - minute)
  count = redis.call('ZCARD', KEYS[1])
  if count >= rpm then
    local e = redis.call('ZRANGE', KEYS[1], count - rpm, count - rpm, 'WITHSCORES')
    return {0, 'rpm', 0, tonumber(e[2]) + minute - now}
  end
end
if mc > 0 then
  local t = redis.call('TIME')
  local srv = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', srv)
  if redis.call('ZCARD', KEYS[2]) >= mc then
    if rpm > 0 then return {0, 'max_concurrent', rpm - count, oldest()} end
    return {0, 'max_concurrent', 0, 0}
  end
  redis.call('ZADD', KEYS[2], srv + lease, member)
  redis.call('PEXPIRE', KEYS[2], 2 * lease)
end
if rpm > 0 then
  redis.call('ZADD', KEYS[1], now, member)
  redis.call('PEXPIRE', KEYS[1], 120000)
  return {1, '', rpm - count - 1, oldest()}
end
return {1, '', 0, 0}
`)

// release ends a request's in-flight lease. KEYS: leases. ARGV: member.
var release = redis.NewScript(`return redis.call('ZREM', KEYS[1], ARGV[1])`)

// reserve holds tokens under tpm and usd under a budget.
// KEYS: tpm log (zset member->time), tpm tokens (hash member->tokens and
// _sum), spent this period (string), reservations (zset member->expiry),
// reserved usd (hash member->usd).
// ARGV: now (µs), tpm, tokens, budget, usd, member, lease (ms), seed
// ("": none), store the seed (1/0), the spent figure's ttl (s).
// Returns {allowed (-1: no spent figure, seed it), refused, remaining,
// reset (µs), spent+reserved (string)}.
var reserve = redis.NewScript(`
local now, tpm, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local budget, usd, member, lease = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local seed, store, ttl = ARGV[8], ARGV[9], tonumber(ARGV[10])
local minute = 60000000
local spent, reserved, srv = 0, 0, 0
if budget > 0 then
  local s = redis.call('GET', KEYS[3])
  if not s then
    if seed == '' then return {-1, '', 0, 0, '0'} end
    if store == '1' then
      redis.call('SET', KEYS[3], seed, 'EX', ttl, 'NX')
      s = redis.call('GET', KEYS[3])
    else
      s = seed
    end
  end
  spent = tonumber(s)
  local t = redis.call('TIME')
  srv = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', srv)
  if #gone > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', srv)
    redis.call('HDEL', KEYS[5], unpack(gone))
  end
  for _, v in ipairs(redis.call('HVALS', KEYS[5])) do reserved = reserved + tonumber(v) end
  if spent + reserved >= budget then
    return {0, 'budget', 0, 0, tostring(spent + reserved)}
  end
end
local remaining, reset = 0, 0
if tpm > 0 then
  local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - minute)
  if #gone > 0 then
    local sub = 0
    for _, v in ipairs(redis.call('HMGET', KEYS[2], unpack(gone))) do sub = sub + (tonumber(v) or 0) end
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - minute)
    redis.call('HDEL', KEYS[2], unpack(gone))
    redis.call('HINCRBY', KEYS[2], '_sum', -sub)
  end
  local used = tonumber(redis.call('HGET', KEYS[2], '_sum') or '0')
  if used + n > tpm then
    -- when enough of the window's tokens have left it for n more
    reset = minute
    local log = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
    local left = used
    for i = 1, #log, 2 do
      left = left - (tonumber(redis.call('HGET', KEYS[2], log[i])) or 0)
      if left + n <= tpm then reset = tonumber(log[i + 1]) + minute - now break end
    end
    return {0, 'tpm', tpm - used, reset, tostring(spent + reserved)}
  end
  redis.call('ZADD', KEYS[1], now, member)
  redis.call('HSET', KEYS[2], member, n)
  redis.call('HINCRBY', KEYS[2], '_sum', n)
  redis.call('PEXPIRE', KEYS[1], 120000)
  redis.call('PEXPIRE', KEYS[2], 120000)
  remaining = tpm - used - n
  local e = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  reset = tonumber(e[2]) + minute - now
end
if budget > 0 then
  redis.call('ZADD', KEYS[4], srv + lease, member)
  redis.call('HSET', KEYS[5], member, ARGV[5])
  redis.call('PEXPIRE', KEYS[4], 2 * lease)
  redis.call('PEXPIRE', KEYS[5], 2 * lease)
  reserved = reserved + usd
end
return {1, '', remaining, reset, tostring(spent + reserved)}
`)

// settle replaces a reservation with what the request used.
// KEYS: as reserve's. ARGV: member, tokens, cost, tpm? (1/0), budget? (1/0).
// The tokens replace the reservation's unless it has left the window;
// the cost adds to the period the reservation was made in, when Redis
// still has its figure (else the ledger seeds it again, cost included).
var settle = redis.NewScript(`
local member, n, cost = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if ARGV[4] == '1' then
  local old = redis.call('HGET', KEYS[2], member)
  if old then
    redis.call('HSET', KEYS[2], member, n)
    redis.call('HINCRBY', KEYS[2], '_sum', n - tonumber(old))
  end
end
if ARGV[5] == '1' then
  redis.call('ZREM', KEYS[4], member)
  redis.call('HDEL', KEYS[5], member)
  if cost > 0 and redis.call('EXISTS', KEYS[3]) == 1 then
    redis.call('INCRBYFLOAT', KEYS[3], ARGV[3])
  end
end
return 1
`)

// renew extends leases: KEYS are lease zsets, ARGV[1] the lease (ms),
// then one member per key.
var renew = redis.NewScript(`
local t = redis.call('TIME')
local until_ = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i, k in ipairs(KEYS) do
  redis.call('ZADD', k, 'XX', until_, ARGV[i + 1])
  redis.call('PEXPIRE', k, 2 * tonumber(ARGV[1]))
end
return 1
`)

// heartbeat marks this replica alive and counts the live ones.
// KEYS: replicas (zset id->last beat, server ms). ARGV: id, alive (ms).
var heartbeat = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], 10 * tonumber(ARGV[2]))
return redis.call('ZCARD', KEYS[1])
`)
