"""What a generated project's GitHub workflows run beside its own commands (`python -m
mlops_ladder.ci <command>`, from the project's root, in its locked environment):

    smoke-test URL [--model-version N] [--entity KEY]   the service answers, with that model
    model-version [FOLDER]              `version=N` of an exported model (a step output)
    gate-decision [REPORT]              `promoted=...` and `version=N` of the registry gate
    monitoring-summary REPORT [--run-url URL]   the monitoring report in Markdown
    dispatch WORKFLOW --ref REF [--input NAME=VALUE]   start a workflow (GitHub REST API)
    update-imports [FOLDER...]          `dvc update` of data/'s imports: `changed=`, `new_data=`
    issue --label L --title T --body-file F     open or update an issue (monitoring, new data)

One entry point with a subcommand each (cli.py); the modules beside it hold the logic, typed and
tested in process (tests/runtime/test_ci.py). The project's shell scripts (service.sh,
deploy.sh) stay in its .github/scripts: they start containers and call kubectl.
"""
