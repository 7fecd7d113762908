"""dotnet-composite-images: build, verify and measure .NET container images whose framework is
compiled into composite ReadyToRun images with Crossgen2.

Data flows one way: acquire -> compile -> stage -> build -> verify -> report.
"""

__version__ = "0.1.0"
