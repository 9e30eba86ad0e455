# Progress of a long Go build, for the testbed/build-*.sh scripts (sourced, not run).
#
# A cold build runs for many minutes; Go itself prints only its download lines, so that progress cannot be told
# from a hang. Each step runs one command with its whole output in a log file and shows, on stderr, the step,
# the time since the build began and what Go has told so far: modules downloaded (its "go: downloading" lines)
# and packages compiled (`go build -v` names each package as it compiles it; packages found in Go's build cache
# are not named). On a terminal one line is rewritten in place every second; when stderr is not a terminal, or
# CI=true, a plain line is printed when a step starts, every PROGRESS_INTERVAL seconds (30) and when it ends.
#
#   progress_begin "$log_file"
#   progress_step "building kube-apiserver" "$packages_in_its_graph" build_apiserver   # a command or function
#   progress_clock $((SECONDS - progress_started))                                    # e.g. 12m03s
#   progress_measure_cpu; progress_clock "$progress_cpu_seconds"                       # CPU time of the steps
#
# A failed step prints the last 40 lines of the log and returns the command's exit status.

progress_begin() {
  progress_log=$1
  progress_started=$SECONDS
  progress_pid=
  progress_summary=
  : >"$progress_log"
  if [ -t 2 ] && [ "${CI:-}" != true ]; then progress_tty=1; else progress_tty=0; fi
  progress_interval=${PROGRESS_INTERVAL:-30}
}

# Seconds as 45s or 12m03s.
progress_clock() {
  local seconds=$1
  if [ "$seconds" -ge 60 ]; then
    printf '%dm%02ds' $((seconds / 60)) $((seconds % 60))
  else
    printf '%ds' "$seconds"
  fi
}

# What the log says since line $1: "N modules downloaded, P/T packages compiled".
_progress_counts() {
  local from=$1 total=$2 modules packages parts=()
  modules=$(tail -n +"$from" "$progress_log" | grep -c '^go: downloading ' || true)
  # `go build -v` prints bare import paths; errors and Go's own messages have spaces or a "go: " prefix.
  packages=$(tail -n +"$from" "$progress_log" | grep -cE '^[A-Za-z0-9._~+/-]+$' || true)
  [ "$modules" -gt 0 ] && parts+=("$modules modules downloaded")
  if [ "$total" -gt 0 ]; then
    parts+=("$packages/$total packages compiled")
  elif [ "$packages" -gt 0 ]; then
    parts+=("$packages packages compiled")
  fi
  local joined=${parts[*]+"${parts[0]}"} part
  for part in "${parts[@]:1}"; do joined+=", $part"; done
  printf '%s' "$joined"
}

_progress_line() {
  local label=$1 from=$2 total=$3 counts
  counts=$(_progress_counts "$from" "$total")
  printf '[%s] %s%s' "$(progress_clock $((SECONDS - progress_started)))" "$label" "${counts:+: $counts}"
}

# Sets progress_cpu_seconds: CPU time (user + system) of every process the steps started, reaped so far. Unlike
# the elapsed time it does not grow when other jobs share the CPU. Not in a $(...): that runs in a subshell.
progress_measure_cpu() {
  local file="$progress_log.times" user sys
  times >"$file"
  read -r user sys < <(sed -n 2p "$file")
  rm -f "$file"
  progress_cpu_seconds=0
  for part in "$user" "$sys"; do  # each like 31m2.123s
    progress_cpu_seconds=$((progress_cpu_seconds + ${part%%m*} * 60 + 10#$(printf '%s' "${part#*m}" | cut -d. -f1)))
  done
}

# Stop the step's command (for the caller's EXIT trap: a background job would outlive the script).
progress_stop() {
  if [ -n "${progress_pid:-}" ]; then
    kill -TERM -- "-$progress_pid" 2>/dev/null || true
    progress_pid=
    if [ "$progress_tty" = 1 ]; then echo >&2; fi  # keep the last progress line in view
  fi
}

progress_step() {
  local label=$1 total=$2
  shift 2
  echo "=== $label: $*" >>"$progress_log"
  local from step_started=$SECONDS last_print=$SECONDS status=0
  from=$(($(wc -l <"$progress_log") + 1))
  [ "$progress_tty" = 1 ] || echo "$(_progress_line "$label" "$from" "$total")" >&2
  set -m  # the step in its own process group, so that progress_stop stops go and the compilers it started
  "$@" >>"$progress_log" 2>&1 </dev/null &
  progress_pid=$!
  set +m
  local last_draw=-1
  while kill -0 "$progress_pid" 2>/dev/null; do
    if [ "$progress_tty" = 1 ] && [ "$SECONDS" != "$last_draw" ]; then
      printf '\r\033[K%s' "$(_progress_line "$label" "$from" "$total")" >&2
      last_draw=$SECONDS
    elif [ "$progress_tty" = 0 ] && [ $((SECONDS - last_print)) -ge "$progress_interval" ]; then
      echo "$(_progress_line "$label" "$from" "$total")" >&2
      last_print=$SECONDS
    fi
    sleep 0.2  # a short step ends with little delay; the line changes once a second
  done
  wait "$progress_pid" || status=$?
  progress_pid=
  [ "$progress_tty" = 1 ] && printf '\r\033[K' >&2
  local took
  took=$(progress_clock $((SECONDS - step_started)))
  if [ "$status" -ne 0 ]; then
    echo "$(_progress_line "$label" "$from" "$total"): FAILED (exit $status) after $took; last 40 lines of $progress_log:" >&2
    tail -n 40 "$progress_log" >&2
    return "$status"
  fi
  echo "$(_progress_line "$label" "$from" "$total"): done in $took" >&2
  progress_summary="${progress_summary:+$progress_summary, }${label#*/* } $took"  # without "2/4 "
}
