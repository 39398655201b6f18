-- One benchmark scenario for wrk: every request is the same method, path and body, except for two
-- placeholders: @ID@ (a number cycling through LO..HI, e.g. an order id to fetch) and @SEQ@ (a
-- number unique to each request of the run, e.g. for an external order id).
--
-- wrk -s request.lua URL -- EXPECTED METHOD PATH KEY BODYFILE LO HI RUN
--   EXPECTED  the status every response should have (others are counted as unexpected)
--   BODYFILE  a file holding the request body, or "-" for none
-- At the end it prints one line, "BENCH {json}", with the counts and latency percentiles (µs).

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end

local expected, method, path, body, lo, hi, run
local headers = {}
local fixed = nil
local vary_path, vary_body = false, false
local n, seq = 0, 0
unexpected = 0
statuses = ""

function init(args)
   expected = tonumber(args[1])
   method = args[2]
   path = args[3]
   headers["Impilo-API-Key"] = args[4]
   if args[5] ~= "-" then
      local file = assert(io.open(args[5], "rb"))
      body = file:read("*a")
      file:close()
      headers["Content-Type"] = "application/json"
   end
   lo, hi, run = tonumber(args[6]), tonumber(args[7]), args[8]
   vary_path = path:find("@ID@", 1, true) ~= nil
   vary_body = body ~= nil and (body:find("@SEQ@", 1, true) ~= nil or body:find("@ID@", 1, true) ~= nil)
   -- spread the threads over the id range, and give each its own block of sequence numbers
   n = (id - 1) * 7919
   seq = id * 1000000000
   if not vary_path and not vary_body then
      fixed = wrk.format(method, path, headers, body)
   end
end

function request()
   if fixed then
      return fixed
   end
   n = n + 1
   seq = seq + 1
   local current = tostring(lo + n % (hi - lo + 1))
   local p = vary_path and path:gsub("@ID@", current) or path
   local b = body
   if vary_body then
      b = body:gsub("@SEQ@", run .. "-" .. tostring(seq)):gsub("@ID@", current)
   end
   return wrk.format(method, p, headers, b)
end

local seen = {}

function response(status, response_headers, response_body)
   if status ~= expected then
      unexpected = unexpected + 1
      if not seen[status] then
         seen[status] = true
         statuses = statuses .. tostring(status) .. " "
      end
   end
end

function done(summary, latency, requests)
   local total_unexpected = 0
   local all_statuses = ""
   for _, thread in ipairs(threads) do
      total_unexpected = total_unexpected + thread:get("unexpected")
      all_statuses = all_statuses .. thread:get("statuses")
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, "write": %d, '
         .. '"status": %d, "timeout": %d, "unexpected": %d, "unexpected_statuses": "%s", '
         .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d}\n',
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
      total_unexpected, all_statuses, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.mean, latency.max))
end
