# The networks of the speed grid, sourced by bench/grid.sh and bench/epoch_grid.sh:
# one row per network, "name|spec|input C,H,W" (the input after preprocessing). A spec may
# hold '|' itself (`res(BODY | SHORTCUT)`): read a row with grid_row, not IFS='|'.
# shellcheck disable=SC2034
GRID=(
  "lenet5|lenet5|1,32,32"
  "3x3 padded, 16-32 ch, 28x28|conv(16,3,p=1) relu maxpool(2) conv(32,3,p=1) relu maxpool(2) flatten linear(10)|1,28,28"
  "3x3 padded, 32-64 ch, 3x32x32|conv(32,3,p=1) relu conv(64,3,p=1) relu maxpool(2) flatten linear(10)|3,32,32"
  "stride-2 convolutions|conv(16,3,s=2,p=1) relu conv(32,3,s=2,p=1) relu flatten linear(10)|1,28,28"
  "overlapping 3x3/2 max-pool|conv(16,3,p=1) relu maxpool(3,s=2) conv(32,3,p=1) relu maxpool(3,s=2) flatten linear(10)|1,28,28"
  "1x1 convolution|conv(16,3,p=1) relu conv(8,1) relu maxpool(2) flatten linear(10)|1,28,28"
  "batch-norm blocks, 2x2 average pool|conv(16,3,p=1) batchnorm relu avgpool(2) conv(32,3,p=1) batchnorm relu avgpool(2) flatten linear(10)|1,28,28"
  "resnet20|resnet20|3,32,32"
  "small residual net, 16-32 ch, 28x28|conv(16,3,p=1,bias=false) batchnorm relu res(conv(16,3,p=1,bias=false) batchnorm relu conv(16,3,p=1,bias=false) batchnorm) relu res(conv(32,3,s=2,p=1,bias=false) batchnorm relu conv(32,3,p=1,bias=false) batchnorm | conv(32,1,s=2,bias=false) batchnorm) relu gap flatten linear(10)|1,28,28"
)

# grid_row ROW: sets name (up to the first '|'), input (after the last) and spec (between).
grid_row() {
  name=${1%%|*}
  local rest=${1#*|}
  input=${rest##*|}
  spec=${rest%|*}
}
