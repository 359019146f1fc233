"""The same four no-op tasks for Airflow: BashOperator `true`, chained."""

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

with DAG(
    dag_id="noop",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    is_paused_upon_creation=False,
) as dag:
    a, b, c, d = (BashOperator(task_id=t, bash_command="true") for t in "abcd")
    a >> b >> c >> d
