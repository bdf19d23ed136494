-- wrk script for benchmarks/serve/run.sh: POST one fixed JSON body.
--
--   wrk -t2 -c8 -d10s --latency -s infer.lua http://HOST:PORT/v2/models/fraud/infer -- BODY_FILE
--
-- The body file is the first script argument (after `--`), else $WRK_BODY,
-- else examples/fraud/request.json. It is read once per wrk thread at init.
--
-- done() prints ONE machine-readable line that run.sh parses:
--   FERRY_BENCH requests=N duration_us=N bytes=N mean_us=N p50_us=N p90_us=N
--               p99_us=N max_us=N connect=N read=N write=N status=N timeout=N
-- Latencies are wrk's (microseconds). `status` is wrk's own count of HTTP
-- responses with status > 399 (the "Non-2xx or 3xx responses" line); we do not
-- define response(), which would make wrk parse every body and slow it down.

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then
    io.stderr:write("infer.lua: cannot open body file '" .. tostring(path) .. "': " .. tostring(err) .. "\n")
    os.exit(2)
  end
  local data = f:read("*a")
  f:close()
  return data
end

local req

function init(args)
  local path = (args and args[1]) or os.getenv("WRK_BODY") or "examples/fraud/request.json"
  wrk.method = "POST"
  wrk.body = read_file(path)
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json"
  -- Ferry authenticates every inference request; the other servers ignore the header.
  local key = os.getenv("FERRY_API_KEY")
  if key and key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end
  req = wrk.format()
end

function request()
  return req
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "FERRY_BENCH requests=%d duration_us=%d bytes=%d mean_us=%.0f p50_us=%.0f p90_us=%.0f p99_us=%.0f max_us=%.0f connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.duration, summary.bytes, latency.mean,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
