import pybullet_envs_gymnasium  # noqa: F401  (registers AntBulletEnv-v0)

import hebbbench  # noqa: F401  (registers the env IDs)
