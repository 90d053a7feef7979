"""Keras models of netgan_tf, registered under the package name "netgan_tf"."""

from netgan_tf.models.discriminator import Discriminator
from netgan_tf.models.encoder import Encoder
from netgan_tf.models.generator import Generator
from netgan_tf.models.netgan import NetGAN

__all__ = ["Discriminator", "Encoder", "Generator", "NetGAN"]
