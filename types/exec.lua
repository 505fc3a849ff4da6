---@meta exec
-- LuaLS definitions for moonexec's `exec` module (require("exec"); the REPL also has it as
-- the global `exec`). Definitions only: the implementation is lua/exec.lua in the package.
-- Every call returns `value, err`: on failure `nil, err` (an exec.Error), never a raised error.

---@alias exec.ErrorKind
---| "INVALID"           # bad argument from the script (the message names it)
---| "NOT_FOUND"         # unknown executor id, command, instance, image, tag or pid
---| "PERMISSION_DENIED" # command rejected by the entry's command_whitelist; untrusted certificate
---| "UNAVAILABLE"       # daemon unreachable, or the connection to it broke (output cut short)
---| "TIMEOUT"           # exec timeout expired (the command was killed), or the daemon did not answer within request_timeout
---| "GONE"              # the container or instance the command ran in was stopped, killed or removed
---| "CLOSED"            # handle used after close/release
---| "STATE"             # wrong order, e.g. start() twice
---| "INTERNAL"
---| "TASK_FAILED"       # task.wait: the task raised a non-exec error; exec.each: the function raised or returned nil, err
---| "CANCELLED"         # exec.each with fail_fast: another id failed first

---An error value: `err.kind`, `err.message`; `tostring(err)` gives "KIND: message".
---@class exec.Error
---@field kind exec.ErrorKind|string
---@field message string

---Options of `executor:exec(cmd, opts)`. Unknown keys are rejected (INVALID naming the key).
---@class exec.ExecOptions
---@field work_dir? string Working directory (default: the entry's default_work_dir).
---@field env? table<string, string|number|boolean> Variables merged over the entry's default_env (nothing else is inherited).
---@field timeout? number Seconds; on expiry the whole process group is killed and `wait()` returns the code plus a TIMEOUT error.
---@field stdin? string Bytes fed to stdin, then stdin is closed.
---@field encoding? string Decode output to UTF-8 from this encoding ("cp949", "euc-kr", any iconv-lite name). Default: bytes unchanged.
---@field background? boolean Background process: starts at once, survives the chunk that started it, listed by `executor:processes()`. (added with background processes, issue 5)
---@field tag? string Name for `executor:kill`/`executor:attach`; default "proc-" plus 8 hex digits, unique per executor. (issue 5)
---@field ring_size? integer Replay buffer per stream of a background process, bytes (≥ 1024). (issue 5)
---@field pty? boolean Run on a pseudo-terminal: stdout shows what the terminal shows (stderr merged), stdin is the keyboard. Executors without terminals refuse it with INVALID.
---@field rows? integer Terminal rows with pty (default 24).
---@field cols? integer Terminal columns with pty (default 80).
---@field term? string TERM with pty (default "xterm-256color").

---A running background process as `executor:processes()` lists it. (issue 5)
---@class exec.ProcessInfo
---@field pid? integer
---@field tag? string
---@field cmd string argv joined by spaces
---@field started_at string ISO-8601 time
---@field backend string the executor's kind, e.g. "exec.native"
---@field background? boolean

---What `proc:info()` reports about one process. (issue 5)
---@class exec.ProcInfo
---@field pid? integer
---@field tag? string
---@field state "created"|"starting"|"running"|"exited"
---@field background? boolean
---@field exit_code? integer
---@field signal? string
---@field timed_out? boolean
---@field note? string Backend remark on how it ended, e.g. "container was OOM-killed (memory_limit reached)"

---@class exec
local exec = {}

---An executor from the config (`namespace:name`); with no config, `local:shell` (native, PATH only, cwd = current dir).
---@class exec.Executor
---@field id string The executor id, e.g. "local:shell".
local Executor = {}

---A command built by `executor:exec`; not running until `start()` (background ones start at once).
---@class exec.Process
local Process = {}

---Output of a process (stdout or stderr). Reads block the script, not the host; unread output is buffered with a bound.
---@class exec.Stream
local Stream = {}

---Get an executor by id.
---@param id string "namespace:name" from the config, e.g. "local:shell"
---@return exec.Executor? executor
---@return exec.Error? err NOT_FOUND for an unknown id, UNAVAILABLE when its backend cannot be reached
function exec.get(id) end

---Options of `exec.each`. Unknown keys are rejected (INVALID naming the key).
---@class exec.EachOptions
---@field concurrency? integer How many ids run at once (default 10).
---@field fail_fast? boolean On the first failure, release the executors still running (killing their commands) and start no more; those ids get a CANCELLED error. Default false: every id runs to its end.

---What `exec.each` reports for one id.
---@class exec.EachResult
---@field id string The executor id.
---@field ok boolean true when the function returned (and not `nil, err`).
---@field value any The function's first return value (when ok).
---@field err? exec.Error Why it failed: exec.get's error, the error the function raised (TASK_FAILED unless it raised an exec.Error) or returned as `nil, err`, or CANCELLED.

---The ids of configured executors, sorted (numbers by value: web2 before web10).
---@param pattern? string A glob ("fleet:*", "fleet:web?"), a fleet's id (its members), or one id. Default: every id.
---@return string[]? ids (empty when nothing matches)
---@return exec.Error? err INVALID when pattern is not a string
function exec.list(pattern) end

---Run `fn(executor, id)` for every id, at most `opts.concurrency` at a time, each in its own task
---with its own executor, released when `fn` returns. One id failing does not stop the others
---(unless `fail_fast`). Returns when every function has returned.
---@param ids string[]|string A list of ids (in the order given), or a pattern as for `exec.list` (sorted; matching nothing is NOT_FOUND).
---@param fn fun(executor: exec.Executor, id: string): any, any
---@param opts? exec.EachOptions
---@return exec.EachResult[]? results One per id, in id order.
---@return exec.EachResult[]|exec.Error|nil errors The failed results, nil when none failed; or the error when the call itself was invalid (then results is nil).
function exec.each(ids, fn, opts) end

---Print a command's output line by line with a prefix, each line in one write (lines of
---concurrent tasks never mix). A process: stdout lines to stdout and stderr lines to stderr,
---read side by side; a stream: its lines to stdout. A last line without a newline gets one.
---@param source exec.Process|exec.Stream
---@param prefix? string Put before every line, e.g. "[" .. id .. "] " (default "").
---@return true? ok when the output has ended
---@return exec.Error? err
function exec.print_lines(source, prefix) end


---Build a command. A string is split into words like a shell would (quotes, backslashes) but run
---without a shell: `|`, `;`, `$X`, `>` stay literal. A whitelist rejection spawns nothing.
---@param cmd string|string[] "git status" or {"git", "status"}
---@param opts? exec.ExecOptions
---@return exec.Process? proc
---@return exec.Error? err PERMISSION_DENIED (whitelist), INVALID (bad cmd/opts), CLOSED (released)
function Executor:exec(cmd, opts) end

---Kill what this executor still runs and free its resources. Idempotent.
---@return true? ok
---@return exec.Error? err
function Executor:release() end

---List this executor's running processes. (added with background processes, issue 5)
---@return exec.ProcessInfo[]? list
---@return exec.Error? err
function Executor:processes() end

---Send a signal (default TERM) to a process of this executor by pid or tag. (issue 5)
---@param selector integer|string pid or tag
---@param sig? integer|string 15, "TERM" or "SIGTERM"
---@return true? ok
---@return exec.Error? err NOT_FOUND when no process matches
function Executor:kill(selector, sig) end

---Attach to a background process: its streams replay recent output, then follow live output. (issue 5)
---@param selector integer|string pid or tag
---@return exec.Process? proc
---@return exec.Error? err
function Executor:attach(selector) end

---Copy bytes into a file of the target (Incus executors).
---@param content string
---@param remote_path string
---@param opts? {mode?: integer, uid?: integer, gid?: integer}
---@return true? ok
---@return exec.Error? err INVALID when the executor's kind has no file transfer
function Executor:push_file(content, remote_path, opts) end

---Read a file of the target (Incus executors).
---@param remote_path string
---@return string? content
---@return exec.Error? err
function Executor:pull_file(remote_path) end

---Start the command.
---@return true? ok
---@return exec.Error? err NOT_FOUND (command or work_dir missing), STATE (already started)
function Process:start() end

---Wait for the command to end and its output to drain. A non-zero exit is not an error; a death by
---signal reports 128+signal (see `signal_name()`); a timeout gives the code plus a TIMEOUT error.
---@return integer? exit_code
---@return exec.Error? err
function Process:wait() end

---Send a signal to the command (its process group where the backend can).
---@param sig integer|string 15, "TERM" or "SIGTERM"
---@return true? ok
---@return exec.Error? err
function Process:signal(sig) end

---SIGKILL the command.
---@return true? ok
---@return exec.Error? err
function Process:kill() end

---The process id (inside the container for Docker/Incus), or nil before start.
---@return integer? pid
---@return exec.Error? err
function Process:pid() end

---Write bytes to stdin (waits while the pipe is full).
---@param data string
---@return true? ok
---@return exec.Error? err CLOSED after close_stdin()
function Process:write_stdin(data) end

---Send EOF on stdin. Idempotent. On a terminal (pty = true) it types Ctrl-D, which is EOF only at the start of a line.
---@return true? ok
---@return exec.Error? err
function Process:close_stdin() end

---Change the terminal size of a process started with `pty = true`; its programs get SIGWINCH.
---@param rows integer
---@param cols integer
---@return true? ok
---@return exec.Error? err STATE without a terminal, INVALID for a bad size
function Process:resize(rows, cols) end

---Stop reading its streams and close stdin; with `force`, also kill the command if it still runs.
---@param force? boolean
---@return true? ok
---@return exec.Error? err
function Process:close(force) end

---The signal that ended the command ("SIGKILL"), or nil when it exited normally or still runs.
---@return string? name
---@return exec.Error? err
function Process:signal_name() end

---State, pid, tag and exit of this process. (issue 5)
---@return exec.ProcInfo? info
---@return exec.Error? err
function Process:info() end

---The stdout stream; usable before or after start(), no output lost either way. Same object on every call.
---@return exec.Stream? stream
---@return exec.Error? err
function Process:stdout_stream() end

---The stderr stream; usable before or after start(). Same object on every call.
---@return exec.Stream? stream
---@return exec.Error? err
function Process:stderr_stream() end

---Read up to n bytes (default 64 KiB); nil at end of output.
---@param n? integer
---@return string? data
---@return exec.Error? err
function Stream:read(n) end

---Read one line without its newline (any length); nil at end of output.
---@return string? line
---@return exec.Error? err
function Stream:read_line() end

---Read everything up to the end of output.
---@return string? data
---@return exec.Error? err
function Stream:read_all() end

---Stop reading; further output of this stream is discarded.
---@return true? ok
---@return exec.Error? err
function Stream:close() end

---Wait until the stream's unread output matches a Lua pattern (matched by `string.find`, so `^`
---anchors at the first unread byte and `$` at the last one so far), then consume the output up to
---the end of the match: the next read or expect goes on after it. Returns the whole match, then
---the captures as `string.match` gives them. Matches against at most the last 1 MiB of unread
---output (older unread output is consumed). See docs/terminals.md.
---@param pattern string A Lua pattern, e.g. "[Pp]assword: $" or "(%d+) files".
---@param timeout? number Seconds (default 30).
---@return string? match
---@return any ... captures; on failure the first extra value is the error: TIMEOUT (its message quotes the last output), CLOSED (the stream ended before a match), INVALID (bad pattern or timeout)
function Stream:expect(pattern, timeout) end

---Iterate over lines: `for line in stream:lines() do ... end` (errors are raised, not returned).
---@return fun(): string?
function Stream:lines() end

return exec
