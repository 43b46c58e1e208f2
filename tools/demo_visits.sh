#!/usr/bin/env bash
# The field-visit part of the README's main job (tools/demo.sh): two
# account managers with wob-visit, each owning half of the provinces.
# A "day" is what a manager does: sync the orders of their regions, print
# the route sheet, visit, fill in the outcomes on the sheet and report it.
#   demo_visits.sh start WORK BIN     split the provinces between the two
#   demo_visits.sh day WORK BIN       one day of each manager
#   demo_visits.sh summary WORK BIN   where their sheets are
set -euo pipefail
command=$1 work=$2 bin=$3
managers=(zhang li)
dir="$work/visit"

case "$command" in
  start)
    mkdir -p "$dir"
    # Provinces of the customers, alternately to each manager (quoted
    # fields, names with commas, are blanked so the columns stay put)
    sed 's/"[^"]*"//g' "$work/targets.csv" | awk -F, 'NR > 1 { print $4 }' | sort -u \
      | awk -v d="$dir" '{ print > (d "/" (NR % 2? "zhang": "li") ".owns") }'
    ;;
  day)
    for m in "${managers[@]}"; do
      owns=()
      [ -d "$dir/$m" ] || while read -r p; do owns+=(--owns "$p"); done < "$dir/$m.owns"
      "$bin/wob-visit" sync --manager "$m" --state "$dir/$m" "${owns[@]}" --quiet 300ms \
          --heartbeat-ms 500 >>"$dir/$m.log" 2>&1 || true
      "$bin/wob-visit" sheet --manager "$m" --state "$dir/$m" --format html \
          --out "$dir/$m-route.html" 2>>"$dir/$m.log" || true
      "$bin/wob-visit" sheet --manager "$m" --state "$dir/$m" --format csv \
          --out "$dir/$m-day.csv" 2>>"$dir/$m.log" || continue
      # The visits: outcomes written on the sheet, a note for the leads
      awk 'NR == 1 { print; next }
           { r = NR % 10
             if (r < 3) o = "accepted,signed on the spot,"
             else if (r < 5) o = "interested,wants a quote,"
             else if (r < 9) o = "declined,,"
             else o = "unreachable,nobody home,"
             sub(/,,,$/, "," o); print }' "$dir/$m-day.csv" > "$dir/$m-outcomes.csv"
      [ "$(wc -l < "$dir/$m-outcomes.csv")" -gt 1 ] || continue
      "$bin/wob-visit" report --manager "$m" --state "$dir/$m" --heartbeat-ms 500 \
          "$dir/$m-outcomes.csv" >>"$dir/$m.log" 2>&1 || true
    done
    ;;
  summary)
    echo "== field visits"
    for m in "${managers[@]}"; do
      echo "   am $m owns $(paste -sd, "$dir/$m.owns"); route sheet $dir/$m-route.html"
      grep -h "reported" "$dir/$m.log" | tail -1 | sed 's/^/     last report: /'
    done
    ;;
  *) echo "usage: demo_visits.sh start|day|summary WORK BIN" >&2; exit 1 ;;
esac
