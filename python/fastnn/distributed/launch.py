"""``python -m fastnn.distributed.launch``: the older launcher's spelling (``torch.distributed.launch``).

Like ``fastnn.distributed.run``, and, as torch.distributed.launch does, each rank's script also receives
``--local-rank=<its rank on the machine>`` unless ``--use-env`` (``--use_env``) is given.
"""
import sys

from .run import _parser, main

if __name__ == "__main__":
    argv = sys.argv[1:]
    sys.exit(main(argv, local_rank_arg=not _parser().parse_args(argv).use_env))
