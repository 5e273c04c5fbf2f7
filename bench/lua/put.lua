-- PUT /kv/<prefix><thread>-<n> with a body of <bytes> bytes: a new key for every request.
--   wrk -t1 -c64 -d10s --latency -s bench/lua/put.lua http://127.0.0.1:8001 -- [prefix] [bytes]
-- Defaults: prefix "bench/", 100 bytes. Used by bench/single.ts, bench/cluster.ts and bench/profile.ts
-- (for Scribe and for the minimal durable server, which takes the same PUT /kv/<key>).
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local prefix = "bench/"
local body = string.rep("v", 100)
local counter = 0

function init(args)
  prefix = args[1] or prefix
  body = string.rep("v", tonumber(args[2] or 100))
end

function request()
  counter = counter + 1
  return wrk.format("PUT", "/kv/" .. prefix .. (tid or 1) .. "-" .. counter, { ["Content-Type"] = "application/octet-stream" }, body)
end
