"""`ganfix layers GEN`: hookable layers with output shapes and unit counts."""
from __future__ import annotations

import typer
from rich.table import Table

from .common import GenArg, GenOptions, JsonOpt, console_for, generator_options, handle_errors, print_json


@handle_errors
@generator_options
def layers(
    gen: str = GenArg,
    gen_opts: GenOptions = None,
    all_layers: bool = typer.Option(False, "--all", help="Include nested submodules, not only the top-level blocks."),
    json_output: bool = JsonOpt,
) -> None:
    """List the hookable layers of GEN with output shapes and unit counts."""
    from ..layer_kinds import layer_note, module_type

    g = gen_opts.load(gen)
    infos = list(g.layers.values()) if all_layers else list(g.top_layers().values()) or list(g.layers.values())
    notes = {i.name: layer_note(g, i.name) for i in infos}
    if json_output:
        return print_json({"generator": g.describe(), "layers": [
            {"name": i.name, "type": module_type(g, i.name), "shape": list(i.shape), "units": i.units,
             "spatial": i.spatial, "note": notes[i.name]} for i in infos]})
    table = Table(title=f"{g.name}  (fingerprint {g.fingerprint}, z {tuple(g.z_shape)})")
    for col in ("layer", "type", "output shape", "units", "spatial", *(["note"] if any(notes.values()) else [])):
        table.add_column(col, justify={"output shape": "right", "units": "right", "spatial": "center"}.get(col, "left"))
    for i in infos:
        row = [i.name, module_type(g, i.name), "×".join(map(str, i.shape)), str(i.units), "yes" if i.spatial else "no"]
        table.add_row(*row, *([notes[i.name]] if any(notes.values()) else []))
    console_for(False).print(table)

def register(app: typer.Typer) -> None:
    app.command("layers")(layers)
