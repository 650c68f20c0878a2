# Written by `enevo report`; run it again with `gnuplot plots.gp` in this directory.
terms = exists("GPVAL_TERMINALS") ? GPVAL_TERMINALS : ""
if (strstrt(terms, "pngcairo") > 0) {
    png_term = "pngcairo noenhanced size 960,640 font 'Sans,11'"
} else {
    png_term = "png noenhanced size 960,640"
}
svg_term = "svg noenhanced size 960,640 dynamic font 'Sans,11'"
set encoding utf8
set micro

# run1-A-seed1: per generation: its best's fitness, the best accuracy, its best's energy, the best fitness so far
$p1 << EOD
0 0.6225 0.6225 0.000434927391 0.6225
1 0.729 0.729 0.00043258911 0.729
EOD
reset
set datafile missing "?"
set grid
set key below
set xlabel "generation"
set ylabel "fitness / accuracy (fitness split)"
set xrange [-0.25:1.25]
set xtics 1
set title "A-seed1" . ": progress per generation"
set ytics nomirror
set y2tics
set logscale y2
set format y2 "%.0s %cJ"
set y2label "energy per inference (J)"
set terminal @png_term
set output "run1-A-seed1-progress.png"
plot $p1 using 1:2 with linespoints pt 7 lw 2 title "fitness of the generation's best", \
  $p1 using 1:5 with steps dt 2 lw 1.5 title "best fitness so far", \
  $p1 using 1:3 with linespoints pt 5 lw 2 title "best accuracy", \
  $p1 using 1:4 axes x1y2 with linespoints pt 9 lw 2 title "energy of the generation's best (right axis)"
set terminal @svg_term
set output "run1-A-seed1-progress.svg"
replot
unset output

# run1-A-seed1: every valid evaluation (x, accuracy), then the front
$a1 << EOD
0.000434927391 0.6225
0.000434239415 0.707333333
0.000216424205 0.6815
0.00043258911 0.729
EOD
$f1 << EOD
0.000216424205 0.6815
0.00043258911 0.729
EOD
reset
set grid
set key below
set logscale x
set ylabel "accuracy (fitness split)"
set format x "%.0s %cJ"
set xlabel "energy per inference (J, log scale)"
set title "A-seed1" . ": accuracy against energy"
set terminal @png_term
set output "run1-A-seed1-front.png"
plot $a1 using 1:2 with points pt 7 ps 0.8 lc rgb "#8c8ca8" title "valid evaluations", \
  $f1 using 1:2 with linespoints pt 7 ps 1.4 lw 2 lc rgb "#d62728" title "non-dominated front"
set terminal @svg_term
set output "run1-A-seed1-front.svg"
replot
unset output

# run2-B-seed1: per generation: its best's fitness, the best accuracy, its best's energy, the best fitness so far
$p2 << EOD
0 0.667209939 0.6225 0.000431759448 0.667209939
1 0.773704107 0.729 0.000432195988 0.773704107
EOD
reset
set datafile missing "?"
set grid
set key below
set xlabel "generation"
set ylabel "fitness / accuracy (fitness split)"
set xrange [-0.25:1.25]
set xtics 1
set title "B-seed1" . ": progress per generation"
set ytics nomirror
set y2tics
set logscale y2
set format y2 "%.0s %cJ"
set y2label "energy per inference (J)"
set terminal @png_term
set output "run2-B-seed1-progress.png"
plot $p2 using 1:2 with linespoints pt 7 lw 2 title "fitness of the generation's best", \
  $p2 using 1:5 with steps dt 2 lw 1.5 title "best fitness so far", \
  $p2 using 1:3 with linespoints pt 5 lw 2 title "best accuracy", \
  $p2 using 1:4 axes x1y2 with linespoints pt 9 lw 2 title "energy of the generation's best (right axis)"
set terminal @svg_term
set output "run2-B-seed1-progress.svg"
replot
unset output

# run2-B-seed1: every valid evaluation (x, accuracy), then the front
$a2 << EOD
0.000431759448 0.6225
0.000432762361 0.707333333
0.000215147971 0.6815
0.000432195988 0.729
EOD
$f2 << EOD
0.000215147971 0.6815
0.000432195988 0.729
EOD
reset
set grid
set key below
set logscale x
set ylabel "accuracy (fitness split)"
set format x "%.0s %cJ"
set xlabel "energy per inference (J, log scale)"
set title "B-seed1" . ": accuracy against energy"
set terminal @png_term
set output "run2-B-seed1-front.png"
plot $a2 using 1:2 with points pt 7 ps 0.8 lc rgb "#8c8ca8" title "valid evaluations", \
  $f2 using 1:2 with linespoints pt 7 ps 1.4 lw 2 lc rgb "#d62728" title "non-dominated front"
set terminal @svg_term
set output "run2-B-seed1-front.svg"
replot
unset output

# the fronts of every run with energy
reset
set grid
set key below
set logscale x
set ylabel "accuracy (fitness split)"
set xlabel "energy per inference (J, log scale)"
set format x "%.0s %cJ"
set title "non-dominated fronts of all runs"
set terminal @png_term
set output "all-fronts.png"
plot $f1 using 1:2 with linespoints pt 7 lw 2 title "A-seed1", \
  $f2 using 1:2 with linespoints pt 7 lw 2 title "B-seed1"
set terminal @svg_term
set output "all-fronts.svg"
replot
unset output

