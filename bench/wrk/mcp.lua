-- wrk script: POST one JSON-RPC body with fixed headers, check every answer, write a JSON summary.
-- Environment: BENCH_BODY (file with the request body), BENCH_HEADERS (optional file, "Name: value"
-- per line), BENCH_OUT (file the summary is written to).
-- An answer counts as an error when its status is not 2xx, when it carries no JSON-RPC "result"
-- (a JSON-RPC error), or, with BENCH_TOOL_CALL=1, when the tool result says "isError": true.

local function read_all(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

wrk.method = "POST"
wrk.body = read_all(os.getenv("BENCH_BODY"))
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
local headers_file = os.getenv("BENCH_HEADERS")
if headers_file and headers_file ~= "" then
  for line in io.lines(headers_file) do
    local k, v = line:match("^([^:]+):%s*(.-)%s*$")
    if k then wrk.headers[k] = v end
  end
end

local check_is_error = os.getenv("BENCH_TOOL_CALL") == "1"
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad_status = 0
  rpc_errors = 0
  sample = ""
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad_status = bad_status + 1
    if sample == "" then sample = status .. " " .. (body or ""):sub(1, 300) end
  elseif not body:find('"result"', 1, true) or (check_is_error and body:find('"isError"%s*:%s*true')) then
    rpc_errors = rpc_errors + 1
    if sample == "" then sample = body:sub(1, 300) end
  end
end

local function quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function done(summary, latency, requests)
  local bad, rpc, first = 0, 0, ""
  for _, t in ipairs(threads) do
    bad = bad + t:get("bad_status")
    rpc = rpc + t:get("rpc_errors")
    local s = t:get("sample")
    if first == "" and s and s ~= "" then first = s end
  end
  local e = summary.errors
  local out = assert(io.open(os.getenv("BENCH_OUT"), "w"))
  out:write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"bad_status":%d,"rpc_errors":%d,' ..
    '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"max":%d,"mean":%.1f,"stdev":%.1f,"p50":%d,"p90":%d,"p95":%d,"p99":%d,"p999":%d},' ..
    '"first_error":%s}',
    summary.requests, summary.duration, summary.bytes, bad, rpc,
    e.connect, e.read, e.write, e.timeout,
    latency.min, latency.max, latency.mean, latency.stdev,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency:percentile(99.9), quote(first)))
  out:close()
end
