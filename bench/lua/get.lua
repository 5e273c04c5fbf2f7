-- GET /kv/<prefix><n><query> for n drawn uniformly from [0, keys): keys preloaded beforehand.
--   wrk -t1 -c64 -d10s --latency -s bench/lua/get.lua http://127.0.0.1:8001 -- [prefix] [keys] [query]
-- Defaults: prefix "g/", 1000 keys, no query (the default consistency). Used by bench/single.ts and
-- bench/profile.ts (bare Bun.serve answers any GET).
local prefix = "g/"
local keys = 1000
local query = ""

function init(args)
  prefix = args[1] or prefix
  keys = tonumber(args[2] or keys)
  query = args[3] or query
  math.randomseed(7)
end

function request()
  return wrk.format("GET", "/kv/" .. prefix .. math.random(0, keys - 1) .. query)
end
