"""dotnet-composite-images: build, verify and measure .NET container images whose framework is
compiled into composite ReadyToRun images with Crossgen2.

Data flows one way, and the subpackages follow it: core and dockerio (foundations) -> acquire ->
compile -> images -> verify -> report; pipeline runs the steps, cli and tasks.py drive them.
"""

__version__ = "0.1.0"
