/**
 * The usage text of `reformer-train` (`--help`, and after a malformed command line).
 * @module
 */
import { BACKEND_USAGE } from './backend.js';

/** The usage text. */
export const USAGE = `Usage: reformer-train <task> [flags]

Tasks:
  duplication            the paper's synthetic task: sequences 0 w 0 w, accuracy on the second w
  char-lm --text FILE    byte-level language model over a text file (vocab 256), bits per character

Task flags:
  --length N             tokens per sequence (default 256; duplication: even)
  --vocab N              duplication: vocabulary size, symbols 1..N-1 (default 64)
  --text FILE            char-lm: the corpus
  --valid-fraction F     char-lm: held-out fraction at the end of the text (default 0.1)

Model flags:
  --layers N             attention layers (default 1)
  --attention TYPE       lsh | local | full (default lsh)
  --d-model N            hidden size (default 128)
  --heads N              attention heads (default 4)
  --head-size N          width per head (default d-model / heads)
  --ff N                 feed-forward width (default 2 * d-model)
  --hashes N             LSH hash rounds in training (default 1)
  --buckets N            LSH buckets per round, even (default: chosen from the length)
  --chunk N              LSH/local chunk length (default 32)
  --axial A0xA1          axial position embeddings over an A0 x A1 grid (default: one learned row per position)
  --dropout P            hidden dropout (default 0)

Training flags:
  --steps N              last training step (default 1000)
  --batch N              sequences per step (default 8)
  --lr X                 peak learning rate (default 1e-3)
  --schedule S           cosine | rsqrt | constant (default cosine)
  --warmup N             warmup steps (default min(100, steps / 10))
  --clip X               clip gradients to this global norm, 0 = off (default 1)
  --seed N               seed of the weights, data, dropout and hashing (default 0)
  --eval-every N         evaluate every N steps, 0 = only at the end (default 0)
  --eval-batches N       validation batches per evaluation (default 4)
  --eval-hashes LIST     duplication/char-lm with LSH: evaluate with each hash count, e.g. 1,2,4,8
  --checkpoint-dir DIR   write training checkpoints here
  --checkpoint-every N   steps between checkpoints (default: eval-every, else steps / 10)
  --keep N               checkpoints kept (default 3)
  --resume               continue from the newest checkpoint in --checkpoint-dir (same settings; --steps may change)
  --overwrite            start a new run in a --checkpoint-dir that holds another run's checkpoints (they are deleted)
  --out DIR              where the final model goes (default: <checkpoint-dir>/final, else ./reformer-<task>)
  --log-every N          plain-output lines every N steps (default: steps / 20)
  --max-memory SIZE      refuse flags that need more memory than this, e.g. 64G (default: this machine's memory)
  -h, --help             this text

Backend flags:
${BACKEND_USAGE}

Numbers are decimal (integers: digits only). Each flag may be given once. Ctrl-C stops after the current
step and saves a checkpoint (or, without --checkpoint-dir, the model) before exiting with status 130.

Example:
  reformer-train duplication --length 256 --vocab 64 --layers 1 --d-model 128 --heads 4 --attention lsh \\
    --hashes 4 --steps 2000 --batch 16 --lr 1e-3 --checkpoint-dir runs/dup --resume --eval-every 200 --eval-hashes 1,2,4,8
`;
