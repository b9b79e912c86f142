#!/usr/bin/env bash
# Generates a Telegram Desktop export of COUNT photos for bench/scan_bench
# (issue 6): OUTDIR/result.json (a single private supergroup, one photo per
# message, with text) and OUTDIR/photos/. The photos are made from the
# shared test images (../shared/testdata/pdq and face) with per-photo random
# transforms done by ffmpeg: a random 92% crop, a rotation of up to +-3
# degrees, a brightness change of up to +-0.1, a horizontal flip for every
# other source, re-encoded as JPEG at quality 2..9 (ffmpeg -q:v) with the long
# side scaled to 1280, 1024, 800 or 640 pixels before the 92% crop (Telegram
# stores photos at up to 1280 px). Generate into /tmp; never commit the result.
#
#   bench/scan_bench_gen.sh OUTDIR [COUNT]
set -euo pipefail

out=${1:?usage: scan_bench_gen.sh OUTDIR [COUNT]}
count=${2:-10000}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
testdata=${TAKEBACK_TESTDATA_DIR:-$here/../../shared/testdata}
command -v ffmpeg >/dev/null || { echo "scan_bench_gen: needs ffmpeg" >&2; exit 2; }
[[ -d $testdata/pdq/images ]] || { echo "scan_bench_gen: no test data at $testdata" >&2; exit 2; }

sources=()
for f in "$testdata"/pdq/images/bridge-1-original.jpg "$testdata"/pdq/images/q*.jpg \
         "$testdata"/pdq/images/small.jpg "$testdata"/pdq/images/exif-rotn-1.jpg "$testdata"/face/*.jpg; do
  [[ -f $f ]] && sources+=("$f")
done
n=${#sources[@]}
per=$(((count + n - 1) / n))
sides=(1280 1024 800 640)
mkdir -p "$out/photos"
for i in "${!sources[@]}"; do
  # Resumable: a source whose photos are all there is not made again.
  if [[ -f "$out/photos/src${i}_$(printf %05d "$per").jpg" ]]; then continue; fi
  side=${sides[$((i % 4))]}
  q=$((2 + i % 8))
  flip=""
  ((i % 2 == 1)) && flip="hflip,"
  ffmpeg -v error -nostdin -loop 1 -i "${sources[$i]}" -frames:v "$per" -q:v "$q" \
    -vf "scale=w='if(gte(iw,ih),$side,-2)':h='if(gte(iw,ih),-2,$side)',${flip}crop=w=iw*0.92:h=ih*0.92:x=random(1)*iw*0.08:y=random(2)*ih*0.08,rotate=a=(random(3)-0.5)*0.1:fillcolor=black,eq=brightness=(random(4)-0.5)*0.2:eval=frame,format=yuvj420p" \
    "$out/photos/src${i}_%05d.jpg"
done

# result.json: one message per photo, in name order, COUNT of them.
start=1704067200
{
  printf '{\n "name": "bench room",\n "type": "private_supergroup",\n "id": 1999999999,\n "messages": [\n'
  k=0
  for f in $(cd "$out" && ls photos | head -n "$count"); do
    k=$((k + 1))
    [[ $k -gt 1 ]] && printf ',\n'
    printf '  {"id": %d, "type": "message", "date": "2024-01-01T00:00:00", "date_unixtime": "%d", "from": "user %d", "from_id": "user%d", "photo": "photos/%s", "width": 1280, "height": 960, "text": "photo %d", "text_entities": []}' \
      "$k" "$((start + k))" "$((k % 97))" "$((1000 + k % 97))" "$f" "$k"
  done
  printf '\n ]\n}\n'
} > "$out/result.json"
echo "scan_bench_gen: $(ls "$out/photos" | wc -l) photos from $n sources, $(grep -c '"photo"' "$out/result.json") messages in $out"
