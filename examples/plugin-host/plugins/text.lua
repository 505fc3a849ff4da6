-- A pure-Lua plugin: text helpers. It also uses the `app` module the host registers in TypeScript.
local app = require("app")

local M = {}

-- Called with a JS string; returns a Lua string (a JS string again).
function M.shout(text)
  return text:upper() .. "!"
end

-- Takes a JS object ({text = ..., min = ...}) and returns a table (a JS object).
function M.stats(opts)
  local words, long = 0, {}
  for word in opts.text:gmatch("%S+") do
    words = words + 1
    if #word >= (opts.min or 5) then long[#long + 1] = word end
  end
  return { words = words, chars = #opts.text, long = long }
end

-- Several return values come back as an array with plugin.callMulti().
function M.greeting(name)
  local greeting = app.setting("greeting") -- an async TypeScript function: the plugin just waits
  app.log("greeted " .. name)
  return greeting .. ", " .. name, #name
end

return M
