// A flow's steps and their topics as a graph laid out by dagre (left to right); the page draws
// the result as SVG. Edges come from the API's `edges`; a topic nobody emits or nobody
// subscribes to is a node of its own, drawn as a warning.
import { Graph, layout } from '@dagrejs/dagre'
import type { Edge, Step, Topic } from './api'

export const NODE_W = 216
export const NODE_H = 62
const TOPIC_W = 150
const TOPIC_H = 30

export interface Point {
  x: number
  y: number
}

export interface LaidNode {
  id: string
  x: number
  y: number
  width: number
  height: number
  step: Step | null
  topic: Topic | null
}

export interface LaidEdge {
  key: string
  from: string
  to: string
  topic: string
  virtual: boolean
  orphan: boolean
  points: Point[]
  label: Point | null
}

export interface Layout {
  width: number
  height: number
  nodes: LaidNode[]
  edges: LaidEdge[]
}

const topicNode = (topic: string) => `topic:${topic}`
const labelWidth = (text: string) => Math.min(220, 12 + text.length * 6.6)

/** Orphan topics touching the given steps, each with the edge that joins it to its step. */
function orphans(topics: Topic[], inFlow: Set<string>): { topic: Topic; edges: Edge[] }[] {
  const found: { topic: Topic; edges: Edge[] }[] = []
  for (const topic of topics) {
    if (!topic.orphan) continue
    const node = topicNode(topic.topic)
    const edges = [
      ...topic.emitters.filter((id) => inFlow.has(id)).map((id) => ({ from: id, to: node })),
      ...topic.subscribers.filter((id) => inFlow.has(id)).map((id) => ({ from: node, to: id })),
    ].map((e) => ({ ...e, topic: topic.topic, virtual: false }))
    if (edges.length) found.push({ topic, edges })
  }
  return found
}

export function layoutFlow(steps: Step[], edges: Edge[], topics: Topic[]): Layout {
  const g = new Graph({ multigraph: true })
  g.setGraph({ rankdir: 'LR', nodesep: 28, ranksep: 90, edgesep: 16, marginx: 16, marginy: 16 })
  g.setDefaultEdgeLabel(() => ({}))
  const inFlow = new Set(steps.map((s) => s.id))
  for (const step of steps) g.setNode(step.id, { width: NODE_W, height: NODE_H })

  const drawn: Edge[] = edges.filter((e) => inFlow.has(e.from) && inFlow.has(e.to))
  const loose = orphans(topics, inFlow)
  for (const { topic } of loose) g.setNode(topicNode(topic.topic), { width: TOPIC_W, height: TOPIC_H })
  const all = [...drawn, ...loose.flatMap((o) => o.edges)]
  all.forEach((edge, i) => {
    const orphan = edge.from.startsWith('topic:') || edge.to.startsWith('topic:')
    // An orphan's edge needs no label: the topic node says the name.
    const label = orphan ? { width: 0, height: 0 } : { width: labelWidth(edge.topic), height: 18 }
    g.setEdge(edge.from, edge.to, { ...label, labelpos: 'c' }, `e${i}`)
  })
  layout(g)

  const bySteps = new Map(steps.map((s) => [s.id, s]))
  const byTopic = new Map(loose.map((o) => [topicNode(o.topic.topic), o.topic]))
  const nodes: LaidNode[] = g.nodes().map((id) => {
    const n = g.node(id)
    return {
      id, x: n.x! - n.width / 2, y: n.y! - n.height / 2, width: n.width, height: n.height,
      step: bySteps.get(id) ?? null, topic: byTopic.get(id) ?? null,
    }
  })
  const laidEdges: LaidEdge[] = g.edges().map((e) => {
    const label = g.edge(e)
    const edge = all[Number(e.name!.slice(1))]
    const orphan = edge.from.startsWith('topic:') || edge.to.startsWith('topic:')
    return {
      key: e.name!, from: edge.from, to: edge.to, topic: edge.topic, virtual: edge.virtual, orphan,
      points: (label.points ?? []) as Point[],
      label: orphan || label.x === undefined ? null : { x: label.x, y: label.y! },
    }
  })
  const graph = g.graph()
  return { width: graph.width ?? 0, height: graph.height ?? 0, nodes, edges: laidEdges }
}

/** A smooth SVG path through dagre's points (quadratic corners). */
export function edgePath(points: Point[]): string {
  if (points.length === 0) return ''
  let d = `M${points[0].x},${points[0].y}`
  for (let i = 1; i < points.length - 1; i++) {
    const p = points[i]
    const next = points[i + 1]
    d += ` Q${p.x},${p.y} ${(p.x + next.x) / 2},${(p.y + next.y) / 2}`
  }
  const last = points[points.length - 1]
  return `${d} L${last.x},${last.y}`
}
