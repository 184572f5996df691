"""``crmkit demo``: realistic demo data (filled in by the demo data work)."""
import click

__all__ = ["demo_command"]


@click.command("demo")
@click.option("--count", default=200, show_default=True, help="How many people to create.")
def demo_command(count: int) -> None:
    """Load realistic demo people and organisations."""
    raise click.ClickException("demo data is not available yet")
