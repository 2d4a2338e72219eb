CREATE TABLE "Membership" (
	"workspaceId" uuid NOT NULL,
	"userId" uuid NOT NULL,
	"role" text DEFAULT 'member' NOT NULL,
	"joinedAt" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "Membership_workspaceId_userId_pk" PRIMARY KEY("workspaceId","userId")
);

CREATE TABLE "Message" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"threadId" uuid NOT NULL,
	"authorId" uuid NOT NULL,
	"text" text NOT NULL,
	"parts" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"createdAt" timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE "OrderLine" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"workspaceId" uuid NOT NULL,
	"userId" uuid NOT NULL,
	"order" text NOT NULL,
	"planId" text NOT NULL,
	"quantity" integer NOT NULL,
	"unitPriceCents" integer NOT NULL,
	"user" jsonb NOT NULL,
	"createdAt" timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE "Plan" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"priceCents" integer NOT NULL,
	"features" jsonb DEFAULT '[]'::jsonb NOT NULL
);

CREATE TABLE "Thread" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspaceId" uuid NOT NULL,
	"createdById" uuid NOT NULL,
	"title" text NOT NULL,
	"createdAt" timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE "User" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"email" text NOT NULL,
	"name" text NOT NULL,
	"invitedById" uuid,
	"preferences" json,
	"createdAt" timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE "Workspace" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"slug" text NOT NULL,
	"name" text NOT NULL,
	"ownerId" uuid NOT NULL,
	"planId" text NOT NULL,
	"settings" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"createdAt" timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE "Membership" ADD CONSTRAINT "Membership_workspaceId_Workspace_id_fk" FOREIGN KEY ("workspaceId") REFERENCES "public"."Workspace"("id") ON DELETE cascade ON UPDATE no action;
ALTER TABLE "Membership" ADD CONSTRAINT "Membership_userId_User_id_fk" FOREIGN KEY ("userId") REFERENCES "public"."User"("id") ON DELETE cascade ON UPDATE no action;
ALTER TABLE "Message" ADD CONSTRAINT "Message_threadId_Thread_id_fk" FOREIGN KEY ("threadId") REFERENCES "public"."Thread"("id") ON DELETE cascade ON UPDATE no action;
ALTER TABLE "Message" ADD CONSTRAINT "Message_authorId_User_id_fk" FOREIGN KEY ("authorId") REFERENCES "public"."User"("id") ON DELETE cascade ON UPDATE no action;
ALTER TABLE "OrderLine" ADD CONSTRAINT "OrderLine_planId_Plan_id_fk" FOREIGN KEY ("planId") REFERENCES "public"."Plan"("id") ON DELETE no action ON UPDATE no action;
ALTER TABLE "OrderLine" ADD CONSTRAINT "OrderLine_membership_fk" FOREIGN KEY ("workspaceId","userId") REFERENCES "public"."Membership"("workspaceId","userId") ON DELETE cascade ON UPDATE no action;
ALTER TABLE "Thread" ADD CONSTRAINT "Thread_workspaceId_Workspace_id_fk" FOREIGN KEY ("workspaceId") REFERENCES "public"."Workspace"("id") ON DELETE cascade ON UPDATE no action;
ALTER TABLE "Thread" ADD CONSTRAINT "Thread_createdById_User_id_fk" FOREIGN KEY ("createdById") REFERENCES "public"."User"("id") ON DELETE cascade ON UPDATE no action;
ALTER TABLE "User" ADD CONSTRAINT "User_invitedById_User_id_fk" FOREIGN KEY ("invitedById") REFERENCES "public"."User"("id") ON DELETE set null ON UPDATE no action;
ALTER TABLE "Workspace" ADD CONSTRAINT "Workspace_ownerId_User_id_fk" FOREIGN KEY ("ownerId") REFERENCES "public"."User"("id") ON DELETE restrict ON UPDATE no action;
ALTER TABLE "Workspace" ADD CONSTRAINT "Workspace_planId_Plan_id_fk" FOREIGN KEY ("planId") REFERENCES "public"."Plan"("id") ON DELETE no action ON UPDATE no action;
CREATE INDEX "Membership_userId_idx" ON "Membership" USING btree ("userId");
CREATE INDEX "Message_threadId_idx" ON "Message" USING btree ("threadId");
CREATE INDEX "Message_authorId_idx" ON "Message" USING btree ("authorId");
CREATE INDEX "OrderLine_order_idx" ON "OrderLine" USING btree ("order");
CREATE INDEX "Thread_workspaceId_idx" ON "Thread" USING btree ("workspaceId");
CREATE UNIQUE INDEX "User_email_key" ON "User" USING btree ("email");
CREATE UNIQUE INDEX "Workspace_slug_key" ON "Workspace" USING btree ("slug");
