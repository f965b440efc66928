-- wrk script of the bench's ledger row (bench/ledger.ts). Run with as many threads as connections: one connection
-- per thread, so each thread sequences its own account as the row's Node loop does: PUT the account, then purchase ->
-- settle -> refund part -> redeem part, again and again, each with an Idempotency-Key of its own. Counts the answers
-- by operation and status; done() writes one JSON summary with wrk's own CPU time.
--
-- Arguments after `--`: result file, run id, Authorization header value.
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local OPS = { "purchase", "settle", "refund", "redeem" }

function init(args)
  result_file, run, auth = args[1], args[2], args[3]
  account = "acct-" .. run .. "-" .. tid
  step = 0
  current = "open"
  statuses = {}
  first_failure = ""
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = auth }
end

-- Step 0 opens the account; step s > 0 is operation (s - 1) % 4 of transaction floor((s - 1) / 4). A step moves on
-- only once its answer came (response), so a request wrk sends again after a reconnect repeats the same step.
function request()
  headers["Idempotency-Key"] = "bench-" .. run .. "-" .. tid .. "-" .. step
  if step == 0 then
    current = "open"
    return wrk.format("PUT", "/v1/ledger/accounts/" .. account, headers, '{"program":"cashback-default","currency":"EUR","cycleAnchorDay":1}')
  end
  local op = OPS[(step - 1) % 4 + 1]
  local tx = account .. "-t" .. math.floor((step - 1) / 4)
  current = op
  if op == "purchase" then
    return wrk.format("POST", "/v1/ledger/accounts/" .. account .. "/transactions", headers,
      '{"transactionId":"' .. tx .. '","amount":10000,"category":"GROCERY","occurredAt":"2026-03-02T10:00:00Z"}')
  elseif op == "settle" then
    return wrk.format("POST", "/v1/ledger/transactions/" .. tx .. "/settle", headers, '{"settledAt":"2026-03-02T10:00:00Z"}')
  elseif op == "refund" then
    return wrk.format("POST", "/v1/ledger/transactions/" .. tx .. "/refunds", headers,
      '{"refundId":"' .. tx .. '-r","amount":2000,"at":"2026-03-05T10:00:00Z"}')
  end
  return wrk.format("POST", "/v1/ledger/accounts/" .. account .. "/redemptions", headers,
    '{"redemptionId":"' .. tx .. '-d","amount":100,"at":"2026-03-06T10:00:00Z"}')
end

function response(status, _, body)
  local key = current .. " " .. status
  statuses[key] = (statuses[key] or 0) + 1
  if status >= 300 and first_failure == "" then first_failure = key .. " " .. body:sub(1, 300) end
  step = step + 1
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

local function json_counts(t)
  local parts = {}
  for k, v in pairs(t) do parts[#parts + 1] = json_string(tostring(k)) .. ":" .. v end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, _)
  local statuses, failure = {}, ""
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do statuses[k] = (statuses[k] or 0) + v end
    if failure == "" then failure = t:get("first_failure") end
  end
  -- utime and stime (fields 14 and 15, clock ticks) of this process, all its threads: what the generator cost.
  local stat = io.open("/proc/self/stat"):read("*a")
  local fields = {}
  for f in stat:sub(stat:find(")", 1, true) + 2):gmatch("%S+") do fields[#fields + 1] = f end
  local e = summary.errors
  local f = io.open(threads[1]:get("result_file"), "w")
  f:write("{",
    '"requests":', summary.requests, ',"durationUs":', summary.duration,
    ',"errors":{"connect":', e.connect, ',"read":', e.read, ',"write":', e.write, ',"status":', e.status, ',"timeout":', e.timeout, "}",
    ',"latencyUs":{"p50":', latency:percentile(50), ',"p90":', latency:percentile(90), ',"p99":', latency:percentile(99), ',"max":', latency.max, "}",
    ',"statuses":', json_counts(statuses), ',"firstFailure":', json_string(failure),
    ',"cpuTicks":', tonumber(fields[12]) + tonumber(fields[13]),
    "}\n")
  f:close()
end
