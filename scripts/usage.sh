# Sourced by scripts/test, setup, dev-keys and dev-certs for their arguments: -h or --help prints
# the comment block at the top of the script (its usage) and exits 0; an option the script does
# not take, or more arguments than it takes, prints that usage to stderr and exits 2, before
# anything is installed, built or written.
#   args_or_usage "OPTIONS" MAX "$@"    OPTIONS: the options taken (space-separated, may be
#                                       empty); MAX: how many other arguments, or "any"
args_or_usage() {
  local allowed=" $1 " max=$2 others=0 arg
  shift 2
  for arg in "$@"; do
    case "$arg" in
      -h | --help) _usage; exit 0 ;;
      -*) [[ $allowed == *" $arg "* ]] || _refuse "unknown option '$arg'" ;;
      *) others=$((others + 1)) ;;
    esac
  done
  if [ "$max" != any ] && [ "$others" -gt "$max" ]; then
    _refuse "takes $( [ "$max" -eq 0 ] && echo "no arguments" || echo "at most $max argument(s)")"
  fi
}

_usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

_refuse() {
  echo "${0#"$(pwd)/"}: $1" >&2
  _usage >&2
  exit 2
}
