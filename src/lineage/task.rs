//! The events of one task: START before its first attempt, COMPLETE or FAIL after its last.

use chrono::Utc;

use super::{emit, run_event, Dataset, EventType, LineageConfig, TaskRun};
use crate::context::RunInfo;
use crate::runner::{TaskOutcome, TaskStatus};
use crate::script::Project;

pub struct TaskLineage {
    config: LineageConfig,
    api_key: Option<String>,
    run_id: String,
}

impl TaskLineage {
    /// Sends START; None when `[lineage]` is not configured.
    pub fn start(project: &Project, run: &RunInfo, task: &str) -> Option<TaskLineage> {
        let config = project.host.config.lineage.clone()?;
        let api_key = config
            .api_key_env
            .as_deref()
            .and_then(|v| project.host.config.var(v));
        let l = TaskLineage {
            config,
            api_key,
            run_id: uuid::Uuid::new_v4().to_string(),
        };
        l.send(project, run, task, EventType::Start, &[], &[], None);
        Some(l)
    }

    /// Sends COMPLETE (or FAIL) with what the task read and wrote.
    pub fn end(self, project: &Project, run: &RunInfo, outcome: &TaskOutcome) {
        let (inputs, outputs) = match &project.host.recorder {
            Some(r) => {
                let (files, loads) = r.of_task(&outcome.name);
                let inputs: Vec<Dataset> = files
                    .into_iter()
                    .map(|p| Dataset {
                        namespace: "file".into(),
                        name: p.display().to_string(),
                        rows: None,
                    })
                    .collect();
                let outputs = loads
                    .into_iter()
                    .map(|l| Dataset {
                        namespace: format!("etl://{}", l.connection),
                        name: l.table,
                        rows: Some(l.rows),
                    })
                    .collect();
                (inputs, outputs)
            }
            None => (Vec::new(), Vec::new()),
        };
        let kind = if outcome.status == TaskStatus::Success {
            EventType::Complete
        } else {
            EventType::Fail
        };
        self.send(
            project,
            run,
            &outcome.name,
            kind,
            &inputs,
            &outputs,
            outcome.error.as_deref(),
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        project: &Project,
        run: &RunInfo,
        task: &str,
        kind: EventType,
        inputs: &[Dataset],
        outputs: &[Dataset],
        error: Option<&str>,
    ) {
        if run.dry_run {
            return;
        }
        let t = TaskRun {
            run_id: &self.run_id,
            namespace: &self.config.namespace,
            project: &project.meta.name,
            task,
            etl_run_id: &run.id,
        };
        let event = run_event(&t, kind, Utc::now(), inputs, outputs, error);
        emit(&self.config, &event, self.api_key.as_deref());
    }
}
