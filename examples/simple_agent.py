"""A hand-written agent for both tasks: a complete example of an agent file.

Evaluate it with::

    hebbbench evaluate examples/simple_agent.py --task car --episodes 3
    hebbbench evaluate examples/simple_agent.py --task ant --episodes 10

An agent file defines ``make_agent(task, holdout, observation_space, action_space)``
returning an object with ``reset(seed)``, called at the start of every episode with its
seed, and ``act(observation) -> action``. The action must lie inside ``action_space``
(hebbbench never clips). Nothing here learns; it shows the interface and gives a score
to beat that is well above the random agent's (``examples/random_agent.py``).

* car: follows the road seen in the 96x96x3 frame. It steers towards the mean column of
  the grey road pixels in rows 30-59 (ahead of the car, which sits near rows 66-77,
  column 48) and holds a target speed read off the speed bar of the dashboard.
* ant: an open-loop gait, ``action[j] = amplitude[j] * sin(2 pi f t + phase[j])`` with
  t the policy step; it ignores the observation. The numbers came from a short
  cross-entropy search (30 generations of 16) on AntDefault-v0 with seeds 0 and 1.
"""

import numpy as np


class RoadFollower:
    """Car: steer towards the road ahead, gas while slower than ``target_speed``."""

    look_ahead = slice(30, 60)  # image rows ahead of the car
    centre_column = 48.0  # the car's column in the 96-pixel-wide frame
    steering_gain = 2.0
    target_speed = 50.0  # Box2D hull speed units
    gas = 0.3

    def reset(self, seed):
        """Stateless: nothing to reset."""

    def act(self, observation):
        pixels = observation.astype(np.int16)
        red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
        road = (abs(red - green) < 20) & (abs(green - blue) < 20) & (red > 80) & (red < 140)
        columns = np.nonzero(road[self.look_ahead])[1]
        centre = columns.mean() if columns.size else self.centre_column
        steer = np.clip(self.steering_gain * (centre - self.centre_column) / self.centre_column, -1.0, 1.0)
        gas = self.gas if self.speed(observation) < self.target_speed else 0.0
        return np.array([steer, gas, 0.0])

    @staticmethod
    def speed(observation):
        """Hull speed from the dashboard's white speed bar (rows 80-94, columns 12-14).

        The block's summed RGB is 3771 at rest and grows by about 117 per speed unit.
        """
        return (observation[80:95, 12:15].astype(np.int64).sum() - 3771) / 117


class OpenLoopGait:
    """Ant: one sine per joint (hip, ankle of each leg, in the env's action order)."""

    frequency = 0.061  # cycles per policy step
    amplitude = np.array([0.73, 0.41, 1.0, 0.01, 1.0, 0.62, 0.54, 1.0])
    phase = np.array([4.06, -1.20, -1.56, -0.21, 5.27, 4.08, 1.69, 4.23])  # radians

    def __init__(self):
        self.step = 0

    def reset(self, seed):
        self.step = 0

    def act(self, observation):
        action = self.amplitude * np.sin(2 * np.pi * self.frequency * self.step + self.phase)
        self.step += 1
        return action


def make_agent(task, holdout, observation_space, action_space):
    if task == "car":
        return RoadFollower()
    if task == "ant":
        return OpenLoopGait()
    raise ValueError(f"this example knows the tasks 'car' and 'ant', not {task!r}")
