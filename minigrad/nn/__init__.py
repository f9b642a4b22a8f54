"""Neural-network building blocks: modules, layers, losses, initialisers."""
from . import functional, init
from .module import Module, ModuleList, Parameter
