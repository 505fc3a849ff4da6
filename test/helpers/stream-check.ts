/**
 * Output checked byte for byte in Lua: random data and text lines, a `want` module that
 * gives the expected bytes, and Lua helpers that compare what a stream delivers with them.
 * For the readers that reuse their buffers (native socket pair, Incus ring).
 */
import { randomBytes } from "node:crypto";

export const SIZE = 6 * 1024 * 1024 + 12345; // not a whole number of reads
export const data = randomBytes(SIZE);
// Text lines of printable bytes, for read_line.
export const lines = Array.from({ length: 20000 }, (_, i) => `${i}:` + randomBytes(1 + (i % 300)).toString("base64"));
export const text = Buffer.from(lines.join("\n") + "\n");

/** Host module `want`: the expected bytes at [from, from + n) of the data, and line i. */
export const wantModule = {
  bytes: (from: number, n: number) => data.subarray(from, from + n),
  line: (i: number) => lines[i],
};

/**
 * Lua: check(c, pos) compares chunk `c` with the data at `pos` and returns the next pos;
 * check_reads(stream, size) reads to the end with read(size), comparing, and returns the
 * bytes read; check_slowly(stream) does so in 40000-byte reads, pausing 20 ms every 20 reads
 * (the producer runs ahead meanwhile); check_lines(stream) reads lines to the end, compares
 * each, and returns how many; close_then_read(ex, path) reads once from `cat path`, closes the
 * stream, waits, then checks a second `cat path` to the end and returns the bytes it read;
 * all_then_lines(ex, path, textPath) checks read_all of `cat path`, then read_line of `cat
 * textPath`, and returns the bytes and the lines.
 */
export const CHECK = `local want = require("want")
  local function check(c, pos)
    if c ~= want.bytes(pos, #c) then error("bytes " .. pos .. "-" .. (pos + #c) .. " differ", 2) end
    return pos + #c
  end
  local function check_reads(s, size)
    local pos = 0
    while true do
      local c = s:read(size) if not c then return pos end
      pos = check(c, pos)
    end
  end
  local function check_slowly(s)
    local task = require("task")
    local pos, i = 0, 0
    while true do
      local c = s:read(40000) if not c then return pos end
      pos = check(c, pos)
      i = i + 1
      if i % 20 == 0 then task.sleep(0.02) end
    end
  end
  local function check_lines(s)
    local i = 0
    while true do
      local line = s:read_line() if not line then return i end
      if line ~= want.line(i) then error("line " .. i .. " differs", 2) end
      i = i + 1
    end
  end
  local function all_then_lines(ex, path, textPath)
    local p = ex:exec({"cat", path}); p:start()
    local all = p:stdout_stream():read_all()
    check(all, 0)
    assert(p:wait() == 0)
    local q = ex:exec({"cat", textPath}); q:start()
    local i = check_lines(q:stdout_stream())
    assert(q:wait() == 0)
    return #all, i
  end
  local function close_then_read(ex, path)
    local p = ex:exec({"cat", path}); p:start()
    local s = p:stdout_stream()
    check(s:read(), 0)
    s:close()
    assert(p:wait() == 0)
    local q = ex:exec({"cat", path}); q:start()
    local pos = check_reads(q:stdout_stream())
    assert(q:wait() == 0)
    return pos
  end`;
