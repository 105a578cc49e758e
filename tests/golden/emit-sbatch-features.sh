#!/bin/bash
# Written by `dabench extract-features --launcher slurm --emit-sbatch`: 3 of 4 shards to extract.
# Submit with: sbatch THIS_FILE. Run it where `dabench` is on PATH (activate its
# environment first). When every task has ended, check the cache is complete:
#   dabench extract-features tiny-video --device cpu --batch-size 4 --workers 0 --set backbone.name=resnet18 --set backbone.weights=none --set video.frame_size=16 --set video.cache_dir=CACHE --data-root DATA --verify
#SBATCH --account=proj
#SBATCH --array=0,2-3%2
#SBATCH --cpus-per-task=8
#SBATCH --gpus-per-node=1
#SBATCH --job-name=dabench
#SBATCH --mem=24GB
#SBATCH --output=CACHE/logs/slurm/%A_%a.log
#SBATCH --partition=gpu
#SBATCH --requeue
#SBATCH --signal=B:USR1@120
#SBATCH --time=90

# one shard of the videos per array task; videos cached already are skipped
dabench extract-features tiny-video --device cpu --batch-size 4 --workers 0 --set backbone.name=resnet18 --set backbone.weights=none --set video.frame_size=16 --set video.cache_dir=CACHE --data-root DATA --shard "${SLURM_ARRAY_TASK_ID}/4" &
child=$!
requeue() {  # time limit near: stop the shard (SIGTERM), then put this task back in the queue
    kill -TERM "$child"; wait "$child"
    scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
}
trap requeue USR1
wait "$child"
