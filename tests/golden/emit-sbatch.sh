#!/bin/bash
# Written by `dabench run --launcher slurm --emit-sbatch`: 5 pending of 8 planned runs.
# Submit with: sbatch THIS_FILE. Run it where `dabench` is on PATH (activate its
# environment first); progress: dabench status --runs-dir RUNS.
#SBATCH --array=0-1,4-5,7%2
#SBATCH --cpus-per-task=8
#SBATCH --gpus-per-node=1
#SBATCH --job-name=dabench
#SBATCH --mem=32GB
#SBATCH --output=RUNS/.slurm/%A_%a.log
#SBATCH --partition=gpu
#SBATCH --qos=normal
#SBATCH --requeue
#SBATCH --signal=B:USR1@120
#SBATCH --time=240

# one run of the plan per array task; finished runs are skipped, unfinished ones resume
dabench run digits --seeds 0,1 --set steps=50 --device auto --runs-dir RUNS --shard "${SLURM_ARRAY_TASK_ID}/8" &
child=$!
requeue() {  # time limit near: stop the run (SIGTERM), then put this task back in the queue
    kill -TERM "$child"; wait "$child"
    scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
}
trap requeue USR1
wait "$child"
