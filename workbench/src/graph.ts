// A flow's steps and their topics as a graph laid out by dagre (top to bottom, as Motia draws); the page draws
// the result as SVG. Edges come from the API's `edges`; a topic nobody emits or nobody
// subscribes to is a node of its own, drawn as a warning.
import { Graph, layout } from '@dagrejs/dagre'
import type { Edge, Step, Topic } from './api'

export const NODE_W = 200
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

/** The point halfway along a polyline, where an edge's topic is written. */
function midpoint(points: Point[]): Point | null {
  if (points.length === 0) return null
  const lengths = points.slice(1).map((p, i) => Math.hypot(p.x - points[i].x, p.y - points[i].y))
  let rest = lengths.reduce((a, b) => a + b, 0) / 2
  for (let i = 0; i < lengths.length; i++) {
    if (rest <= lengths[i] && lengths[i] > 0) {
      const t = rest / lengths[i]
      return { x: points[i].x + (points[i + 1].x - points[i].x) * t, y: points[i].y + (points[i + 1].y - points[i].y) * t }
    }
    rest -= lengths[i]
  }
  return points[0]
}

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
  // No label nodes: they double the ranks. The gap between ranks holds the topic instead.
  g.setGraph({ rankdir: 'TB', nodesep: 36, ranksep: 64, edgesep: 14, marginx: 16, marginy: 16 })
  g.setDefaultEdgeLabel(() => ({}))
  const inFlow = new Set(steps.map((s) => s.id))
  for (const step of steps) g.setNode(step.id, { width: NODE_W, height: NODE_H })

  const drawn: Edge[] = edges.filter((e) => inFlow.has(e.from) && inFlow.has(e.to))
  const loose = orphans(topics, inFlow)
  for (const { topic } of loose) g.setNode(topicNode(topic.topic), { width: TOPIC_W, height: TOPIC_H })
  const all = [...drawn, ...loose.flatMap((o) => o.edges)]
  all.forEach((edge, i) => g.setEdge(edge.from, edge.to, {}, `e${i}`))
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
    const points = (g.edge(e).points ?? []) as Point[]
    const edge = all[Number(e.name!.slice(1))]
    // An orphan's edge needs no label: the topic node says the name.
    const orphan = edge.from.startsWith('topic:') || edge.to.startsWith('topic:')
    return {
      key: e.name!, from: edge.from, to: edge.to, topic: edge.topic, virtual: edge.virtual, orphan,
      points, label: orphan ? null : midpoint(points),
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
