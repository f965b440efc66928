-- wrk script of the bench's HTTP rows (bench/loadgen.ts): cycles the bench's bodies, gives every request an id of
-- its own (spliced into the body, e.g. the refundId, and sent as Idempotency-Key), counts statuses and a marker
-- field of each answer (the outcome), and in done() writes one JSON summary with wrk's own CPU time.
--
-- Arguments after `--`: bodies file (one body a line, "<head>\t<tail>" or more parts, the id goes between each two),
-- result file, run id,
-- path, Authorization header value ('' for none), marker ('"outcome":"'), thread count.
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  result_file, run, path, auth, marker = args[2], args[3], args[4], args[5], args[6]
  heads = {}
  for line in io.lines(args[1]) do
    local parts, from = {}, 1
    while true do
      local tab = line:find("\t", from, true)
      if not tab then break end
      parts[#parts + 1] = line:sub(from, tab - 1)
      from = tab + 1
    end
    parts[#parts + 1] = line:sub(from)
    heads[#heads + 1] = parts
  end
  -- Threads start at different bodies so they do not send the same case at the same moment.
  offset = math.floor((tid - 1) * #heads / tonumber(args[7]))
  n = 0
  prefix = run .. "_" .. tid .. "_"
  headers = { ["Content-Type"] = "application/json" }
  if auth ~= "" then headers["Authorization"] = auth end
  statuses, outcomes = {}, {}
  first_failure = ""
end

function request()
  n = n + 1
  local i = (offset + n) % #heads + 1
  local id = prefix .. n
  headers["Idempotency-Key"] = "bench-" .. id
  return wrk.format("POST", path, headers, table.concat(heads[i], id))
end

function response(status, _, body)
  statuses[status] = (statuses[status] or 0) + 1
  local _, e = body:find(marker, 1, true)
  if e then
    local q = body:find('"', e + 1, true)
    local o = body:sub(e + 1, (q or 0) - 1)
    outcomes[o] = (outcomes[o] or 0) + 1
  elseif status >= 300 and first_failure == "" then
    first_failure = status .. " " .. body:sub(1, 300)
  end
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
  local statuses, outcomes, failure = {}, {}, ""
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do statuses[k] = (statuses[k] or 0) + v end
    for k, v in pairs(t:get("outcomes")) do outcomes[k] = (outcomes[k] or 0) + v end
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
    ',"statuses":', json_counts(statuses), ',"outcomes":', json_counts(outcomes), ',"firstFailure":', json_string(failure),
    ',"cpuTicks":', tonumber(fields[12]) + tonumber(fields[13]),
    "}\n")
  f:close()
end
