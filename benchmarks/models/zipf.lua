-- wrk script for benchmarks/models/run.sh: POST one fixed V2 body to /v2/models/NAME/infer, NAME drawn per request
-- from a Zipf distribution over N model names (rank r is requested with probability proportional to 1 / r^S).
--
--   wrk -t2 -c8 -d30s --latency -s zipf.lua http://HOST:PORT -- BODY_FILE N S PREFIX WIDTH SEED
--
-- Rank r (1..N) is the model named PREFIX .. zero-padded(r - 1, WIDTH), e.g. m00000 for rank 1. The CDF is built
-- once per thread in init(); each request draws u in [0, 1) and binary-searches it. Each thread seeds its own
-- generator with SEED + its index, so a run is repeatable (up to how many requests each thread sends).
--
-- done() prints the same FERRY_BENCH line as benchmarks/serve/infer.lua. `status` is wrk's count of responses
-- with status > 399; no response() is defined (it would make wrk parse every response).

local threads = 0

function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then
    io.stderr:write("zipf.lua: cannot open body file '" .. tostring(path) .. "': " .. tostring(err) .. "\n")
    os.exit(2)
  end
  local data = f:read("*a")
  f:close()
  return data
end

local n, cdf, paths

function init(args)
  if not args or #args < 6 then
    io.stderr:write("zipf.lua: usage: -- BODY_FILE N S PREFIX WIDTH SEED\n")
    os.exit(2)
  end
  local s = tonumber(args[3])
  local prefix, width, seed = args[4], tonumber(args[5]), tonumber(args[6])
  n = tonumber(args[2])
  wrk.method = "POST"
  wrk.body = read_file(args[1])
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json"
  local key = os.getenv("FERRY_API_KEY")
  if key and key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end

  cdf, paths = {}, {}
  local sum = 0
  for r = 1, n do
    sum = sum + r ^ (-s)
    cdf[r] = sum
    paths[r] = string.format("/v2/models/%s%0" .. width .. "d/infer", prefix, r - 1)
  end
  for r = 1, n do cdf[r] = cdf[r] / sum end
  cdf[n] = 1.0
  math.randomseed(seed + 7919 * (thread_index or 0))
end

function request()
  local u = math.random()
  local lo, hi = 1, n -- smallest r with cdf[r] >= u
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] >= u then hi = mid else lo = mid + 1 end
  end
  return wrk.format(nil, paths[lo])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "FERRY_BENCH requests=%d duration_us=%d bytes=%d mean_us=%.0f p50_us=%.0f p90_us=%.0f p99_us=%.0f max_us=%.0f connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.duration, summary.bytes, latency.mean,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
