"""``theo normalize "texto falado"``: run the post-processing pipeline on text, no audio, no server."""

from __future__ import annotations

import json

import typer

from theo_rtc.cli.output import console, fail

_DOMAIN_HELP = "Entity rules: banking | telecom | generic."


def register(app: typer.Typer) -> None:
    @app.command(
        "normalize",
        help=(
            "Format spoken text as a final transcript would be: entities (CPF, CNPJ, CEP, phones, money), "
            'inverse text normalisation ("dois mil e vinte e cinco" -> "2025") and hot-word correction.'
        ),
    )
    def normalize(
        text: str = typer.Argument(..., help="Spoken-form text, e.g. 'dez mil reais'."),
        language: str = typer.Option(None, "--lang", "--language", "-l", help="pt or en. Default: guess."),
        domain: str = typer.Option("generic", "--domain", "-d", help=_DOMAIN_HELP),
        hot_words: str = typer.Option(None, "--hot-words", help='Comma-separated: "PIX,TED,Selic".'),
        itn: bool = typer.Option(True, "--itn/--no-itn", help="Inverse text normalisation (NeMo)."),
        entities: bool = typer.Option(True, "--entities/--no-entities", help="Entity formatting."),
        as_json: bool = typer.Option(
            False, "--json", help="Print text, language and per-stage timings as JSON."
        ),
    ) -> None:
        from theo_rtc.postprocessing import DOMAINS, PostProcessingOptions, get_postprocessor, parse_hot_words

        if domain not in DOMAINS:
            fail(f"unknown domain {domain!r}; use one of: {', '.join(DOMAINS)}")
        options = PostProcessingOptions(
            itn=itn,
            entities=entities,
            domain=domain,  # type: ignore[arg-type]  # checked against DOMAINS above
            language=language,
            hot_words=parse_hot_words(hot_words),
        )
        result = get_postprocessor().normalize(text, options)
        if as_json:
            body = {
                "text": result.text,
                "language": result.language,
                "stages": {name: report.to_dict() for name, report in result.stages.items()},
                "hot_word_hits": result.hot_word_hits,
            }
            typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        else:
            console.print(result.text, markup=False, highlight=False, soft_wrap=True)
